#include "loadgen/endpoint.h"

#include <gtest/gtest.h>

namespace citadel::loadgen {
namespace {

TEST(LoadgenEndpoint, ParsesTheCommonForms) {
    auto e = parse_endpoint("http://127.0.0.1:8080");
    ASSERT_TRUE(e) << e.error();
    EXPECT_FALSE(e->tls);
    EXPECT_EQ(e->host, "127.0.0.1");
    EXPECT_EQ(e->port, "8080");
    EXPECT_EQ(api_path(*e, Api::kChat), "/v1/chat/completions");
    e = parse_endpoint("https://api.example.com/v1/");
    ASSERT_TRUE(e) << e.error();
    EXPECT_TRUE(e->tls);
    EXPECT_EQ(e->port, "443");
    EXPECT_EQ(e->host_header, "api.example.com");
    EXPECT_EQ(api_path(*e, Api::kCompletions), "/v1/completions");
    e = parse_endpoint("http://[::1]:9000/proxy/v1");
    ASSERT_TRUE(e) << e.error();
    EXPECT_EQ(e->host, "::1");
    EXPECT_EQ(e->host_header, "[::1]:9000");
    EXPECT_EQ(api_path(*e, Api::kChat), "/proxy/v1/chat/completions");
}

TEST(LoadgenEndpoint, BadUrlsSayWhy) {
    auto why = [](const std::string& url) {
        auto e = parse_endpoint(url);
        return e ? std::string("parsed") : e.error();
    };
    EXPECT_NE(why("localhost:8080").find("expected http://"), std::string::npos);
    EXPECT_NE(why("http://:8080").find("no host"), std::string::npos);
    EXPECT_NE(why("http://h:99999").find("not 1-65535"), std::string::npos);
    EXPECT_NE(why("http://h:abc").find("not 1-65535"), std::string::npos);
    EXPECT_NE(why("http://u:p@h").find("credentials"), std::string::npos);
    EXPECT_NE(why("http://h/x?y=1").find("query"), std::string::npos);
    EXPECT_NE(why("http://[::1").find("unclosed"), std::string::npos);
}

}  // namespace
}  // namespace citadel::loadgen

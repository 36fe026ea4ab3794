#include "gateway/crypto.h"

#include <gtest/gtest.h>

namespace citadel::gateway::crypto {
namespace {

TEST(Crypto, Sha256KnownVectors) {
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("abc"),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Crypto, HmacSha256Rfc4231Case2) {
    EXPECT_EQ(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Crypto, Base64RoundTripsAndRejectsBadCharacters) {
    EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
    EXPECT_EQ(base64url_decode("-_8"), std::string("\xfb\xff"));
    EXPECT_EQ(base64_decode("Zm8="), std::string("fo"));
    EXPECT_FALSE(base64url_decode("a+b").has_value());
    EXPECT_FALSE(base64_decode("abcde").has_value());
    for (size_t n = 0; n < 40; ++n) {
        const std::string r = random_bytes(n);
        EXPECT_EQ(base64_decode(base64_encode(r)), r);
        EXPECT_EQ(base64url_decode(base64url_encode(r)), r);
    }
}

TEST(Crypto, HexAndConstantTimeEqual) {
    EXPECT_EQ(from_hex("00ff10"), std::string("\x00\xff\x10", 3));
    EXPECT_FALSE(from_hex("0g").has_value());
    EXPECT_TRUE(constant_time_equal("abc", "abc"));
    EXPECT_FALSE(constant_time_equal("abc", "abd"));
    EXPECT_FALSE(constant_time_equal("abc", "abcd"));
    EXPECT_NE(random_bytes(16), random_bytes(16));
}

}  // namespace
}  // namespace citadel::gateway::crypto

// Renders every reference chat template (../shared/reference/templates) with every case
// and asserts byte equality with Jinja2's output, or an error where Jinja2 raised.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "test_paths.h"
#include "text/template/chat_template.h"
#include "text/template/chat_template_source.h"

namespace citadel::jinja {
namespace {

using nlohmann::ordered_json;

TEST(TemplateReference, AllCasesMatchJinja2) {
    namespace fs = std::filesystem;
    const fs::path dir = fs::path(test::shared_dir()) / "reference" / "templates";
    if (!fs::is_directory(dir)) GTEST_SKIP() << "no reference templates at " << dir;
    ChatTemplateOptions options;
    options.now = *parse_datetime("2026-11-21 09:30:00");  // the `now` the references pin
    int n_cases = 0, n_files = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().extension() != ".json") continue;
        std::ifstream in(entry.path());
        std::stringstream ss;
        ss << in.rdbuf();
        const ordered_json ref = ordered_json::parse(ss.str());
        ++n_files;
        options.now = *parse_datetime(ref.value("now", "2026-11-21T09:30:00"));
        auto tpl = ChatTemplate::create(ref["source"].get<std::string>(), options);
        for (const auto& c : ref["cases"]) {
            ++n_cases;
            const std::string where =
                entry.path().filename().string() + " / " + c["name"].get<std::string>();
            if (!tpl.ok()) {
                ADD_FAILURE() << where << ": " << tpl.error();
                continue;
            }
            Result<std::string> got = tpl->apply(c["context"]);
            if (c.contains("error")) {
                EXPECT_FALSE(got.ok()) << where << " should raise: " << c["error"];
            } else {
                ASSERT_TRUE(got.ok()) << where << ": " << got.error();
                EXPECT_EQ(*got, c["expected"].get<std::string>()) << where;
            }
        }
    }
    EXPECT_EQ(n_files, 40);
    EXPECT_EQ(n_cases, 280);
}

TEST(TemplateSource, LoadsFromHuggingFaceDirAndFile) {
    namespace fs = std::filesystem;
    const fs::path tmp = fs::temp_directory_path() / ("citadel_tpl_" + std::to_string(::getpid()));
    fs::create_directories(tmp);
    std::ofstream(tmp / "tokenizer_config.json")
        << R"({"bos_token": {"content": "<s>"}, "eos_token": "</s>",
              "chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D{{ bos_token }}"}]})";
    auto src = load_template_from_hf_dir(tmp.string());
    ASSERT_TRUE(src.ok()) << src.error();
    EXPECT_EQ(src->source, "D{{ bos_token }}");
    EXPECT_EQ(src->bos_token.value_or(""), "<s>");
    EXPECT_EQ(src->eos_token.value_or(""), "</s>");
    std::ofstream(tmp / "chat_template.jinja") << "J";
    src = load_template_from_hf_dir(tmp.string());
    ASSERT_TRUE(src.ok());
    EXPECT_EQ(src->source, "J");  // chat_template.jinja wins
    auto file = load_template_file((tmp / "chat_template.jinja").string());
    ASSERT_TRUE(file.ok());
    EXPECT_EQ(file->source, "J");
    EXPECT_FALSE(load_template_file((tmp / "missing.jinja").string()).ok());
    fs::remove_all(tmp);
}

TEST(TemplateSource, GgufWithoutTemplateFallsBackToChatML) {
    const std::string model = test::reference_model("stories260K.gguf");
    if (!std::filesystem::exists(model)) GTEST_SKIP();
    auto src = load_template_from_gguf(model);
    ASSERT_TRUE(src.ok()) << src.error();
    EXPECT_TRUE(src->fallback);
    EXPECT_TRUE(src->bos_token.has_value());
}

}  // namespace
}  // namespace citadel::jinja

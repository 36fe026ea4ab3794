// citadel tokenize: text -> token ids with a model's tokenizer (GGUF) or a Hugging Face one.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/common.h"
#include "cli/verbs.h"

namespace citadel::cli {
namespace {

struct TokenizeArgs {
    TokenizerSource source;
    bool parse_special = false;
    bool add_special = false;
    std::string text;
    std::string batch;
};

Result<std::vector<std::string>> read_batch(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::error("cannot open --batch file '" + path + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    const nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false);
    if (j.is_discarded() || !j.is_array()) {
        return Status::error(path + ": expected a JSON array of strings");
    }
    std::vector<std::string> texts;
    for (size_t i = 0; i < j.size(); ++i) {
        if (!j[i].is_string()) {
            return Status::error(path + ": item " + std::to_string(i) + " is not a string");
        }
        texts.push_back(j[i].get<std::string>());
    }
    return texts;
}

int run(const TokenizeArgs& a) {
    Result<std::shared_ptr<const text::Tokenizer>> tok = open_tokenizer(a.source);
    if (!tok) return fail(tok.error());
    const text::EncodeOptions opt{a.add_special, a.parse_special};
    if (a.batch.empty()) {
        const nlohmann::json ids = (*tok)->encode(a.text, opt);
        std::printf("%s\n", ids.dump().c_str());
        return 0;
    }
    Result<std::vector<std::string>> texts = read_batch(a.batch);
    if (!texts) return fail(texts.error());
    nlohmann::json all = nlohmann::json::array();
    for (const std::string& t : *texts) all.push_back((*tok)->encode(t, opt));
    std::printf("%s\n", all.dump().c_str());
    return 0;
}

}  // namespace

VerbRunner add_tokenize(CLI::App& app) {
    auto a = std::make_shared<TokenizeArgs>();
    CLI::App* c = app.add_subcommand("tokenize", "Print the token ids of a text as a JSON array");
    add_tokenizer_options(*c, a->source);
    c->add_flag("--parse-special", a->parse_special,
                "Special tokens written in the text become their ids");
    c->add_flag("--add-special", a->add_special, "Add BOS/EOS as the model is configured to");
    auto* text = c->add_option("text", a->text, "The text to tokenize");
    auto* batch = c->add_option("--batch", a->batch,
                                "JSON file with an array of texts; prints an array of arrays");
    text->excludes(batch);
    c->callback([c, text, batch] {
        if (text->count() == 0 && batch->count() == 0) {
            throw CLI::ValidationError("tokenize", "give a TEXT or --batch FILE");
        }
    });
    return [a] { return run(*a); };
}

}  // namespace citadel::cli

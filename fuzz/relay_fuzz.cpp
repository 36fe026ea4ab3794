// libFuzzer target for what routing and load generation read from the other side: request
// bodies rewritten by per-model settings (aliases, sampling defaults), Ollama bodies
// translated for an upstream, an upstream's answers (JSON, SSE split anywhere) turned into
// Ollama's shapes, and what `citadel bench serve` parses of a server's stream and of a
// dataset file. Nothing may throw, crash, hang or trip a sanitizer. Seed with request bodies
// and SSE transcripts (tests/e2e and tests/loadgen have many).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/model_settings.h"
#include "api/ollama.h"
#include "api/ollama_relay.h"
#include "loadgen/prompts.h"
#include "loadgen/sse.h"

namespace {

using namespace citadel;
using nlohmann::ordered_json;

// A client that takes everything and remembers nothing.
class NullResponder final : public server::Responder {
  public:
    void send(int, std::string, std::string body,
              std::vector<std::pair<std::string, std::string>>) override {
        sink_ += body.size();
    }
    void start_stream(int, std::string, std::vector<std::pair<std::string, std::string>>) override {
    }
    bool write(std::string chunk) override {
        sink_ += chunk.size();
        return true;
    }
    void end() override {}
    void on_disconnect(std::function<void()>) override {}
    bool disconnected() const override { return false; }

  private:
    size_t sink_ = 0;
};

const api::ModelSettingsTable& settings() {
    static const api::ModelSettingsTable table = [] {
        api::ModelSettings m{.name = "qwen", .aliases = {"gpt"}};
        m.sampling = {{"temperature", 0.5}, {"max_tokens", 8}, {"repetition_penalty", 1.1}};
        return api::ModelSettingsTable::create({m}, {"qwen"}).value();
    }();
    return table;
}

void fuzz_bodies(const std::string& body) {
    for (bool ollama : {false, true}) {
        for (bool defaults : {false, true}) (void)settings().apply(body, ollama, defaults);
    }
    if (api::parse_ollama_chat(body).ok())
        (void)api::ollama_to_openai(ordered_json::parse(body), true).body.dump();
    if (api::parse_ollama_generate(body).ok())
        (void)api::ollama_to_openai(ordered_json::parse(body), false).body.dump();
}

void fuzz_answers(const std::string& bytes) {
    for (bool chat : {false, true}) {
        auto whole = api::ollama_relay_responder(std::make_shared<NullResponder>(), "m", chat);
        whole->send(200, "application/json", bytes, {});
        auto stream = api::ollama_relay_responder(std::make_shared<NullResponder>(), "m", chat);
        stream->start_stream(200, "text/event-stream", {});
        const size_t cut = bytes.empty() ? 0 : size_t(uint8_t(bytes[0])) % bytes.size();
        stream->write(bytes.substr(0, cut));
        stream->write(bytes.substr(cut));
        stream->end();
    }
}

void fuzz_loadgen(const std::string& bytes) {
    loadgen::SseParser parser;
    std::vector<std::string> events;
    const size_t cut = bytes.size() / 3;
    parser.feed(std::string_view(bytes).substr(0, cut), events);
    parser.feed(std::string_view(bytes).substr(cut), events);
    for (const std::string& e : events) {
        for (loadgen::Api api : {loadgen::Api::kChat, loadgen::Api::kCompletions}) {
            auto chunk = loadgen::parse_chunk(e, api);
            if (!chunk.ok() && chunk.error().empty()) __builtin_trap();  // failures say why
        }
    }
    (void)loadgen::error_message_of(bytes);
    int skipped = 0;
    auto prompts = loadgen::parse_dataset(bytes, "fuzz.jsonl", 16, 0, &skipped);
    if (!prompts.ok() && prompts.error().empty()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    fuzz_bodies(bytes);
    fuzz_answers(bytes);
    fuzz_loadgen(bytes);
    return 0;
}

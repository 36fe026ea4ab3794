// citadel <verb> ...: the single binary of the project.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <utility>
#include <vector>

#include "cli/verbs.h"

int main(int argc, char** argv) {
    using namespace citadel::cli;
    CLI::App app{"Citadel: private LLM inference — run GGUF models on your own machines"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "citadel 0.1.0");
    std::vector<std::pair<CLI::App*, VerbRunner>> verbs;
    auto add = [&](VerbRunner (*adder)(CLI::App&)) {
        const size_t before = app.get_subcommands({}).size();
        VerbRunner r = adder(app);
        verbs.emplace_back(app.get_subcommands({})[before], std::move(r));
    };
    add(add_run);
    add(add_logits);
    add(add_bench);
    add(add_info);
    add(add_quantize);
    add(add_synth);
    add(add_template);
    add(add_tokenize);
    add(add_chat);
    add(add_serve);
    add(add_keys);
    add(add_audit);
    add(add_pull);
    add(add_plan);
    add(add_deploy);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    for (auto& [sub, runner] : verbs) {
        if (sub->parsed()) return runner();
    }
    return 1;
}

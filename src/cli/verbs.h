// The verbs of the `citadel` command. Each registers a subcommand and runs when chosen.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace citadel::cli {

// A registered verb: the parsed options live in the closure; run() returns the exit code.
using VerbRunner = std::function<int()>;

VerbRunner add_run(CLI::App& app);
VerbRunner add_logits(CLI::App& app);
VerbRunner add_bench(CLI::App& app);
VerbRunner add_bench_batch(CLI::App& bench);  // `bench batch`, registered by add_bench
VerbRunner add_bench_serve(CLI::App& bench);  // `bench serve`, registered by add_bench
VerbRunner add_info(CLI::App& app);
VerbRunner add_quantize(CLI::App& app);
VerbRunner add_synth(CLI::App& app);
VerbRunner add_template(CLI::App& app);
VerbRunner add_tokenize(CLI::App& app);
VerbRunner add_chat(CLI::App& app);
VerbRunner add_serve(CLI::App& app);
VerbRunner add_keys(CLI::App& app);
VerbRunner add_audit(CLI::App& app);
VerbRunner add_pull(CLI::App& app);
VerbRunner add_plan(CLI::App& app);
VerbRunner add_deploy(CLI::App& app);

}  // namespace citadel::cli

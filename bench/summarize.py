"""Medians of bench/run_bench.sh's raw rows, as a Markdown section for bench/RESULTS.md."""
import collections, datetime, os, platform, statistics, subprocess, sys

# Single-stream decode reads every weight once per token: tokens/s <= bandwidth / bytes.
# 35 GB/s is the two-thread read bandwidth of this machine class (../shared/docs/ANCHORS.md).
BANDWIDTH = 35e9

def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()

def main(raw, models, note=""):
    rows = collections.defaultdict(list)
    for line in open(raw):
        t, engine, test, v = line.split("\t")
        rows[(t, engine, test)].append(float(v))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    out = [f"\n## {datetime.date.today()} — commit {commit}, {os.cpu_count()} cores, {cpu_model()}",
           "", f"Qwen2.5-0.5B shape, 2 threads, medians of {max(len(v) for v in rows.values())} "
           "rounds (each round: llama-bench -r 3 mean, citadel bench run -r 3 median)."
           + (f" {note}" if note else ""), "",
           "| type | size | test | llama.cpp t/s | citadel t/s | ratio | citadel vs ceiling |",
           "|---|---|---|---|---|---|---|"]
    for t in dict.fromkeys(k[0] for k in rows):
        path = os.path.join(models, f"qwen2.5-0.5b-{t}.gguf")
        size = os.path.getsize(path) if os.path.exists(path) else 0
        for test in ("pp512", "tg128"):
            ours = rows.get((t, "citadel", test))
            theirs = rows.get((t, "llama.cpp", test))
            if not ours:
                continue
            o = statistics.median(ours)
            th = statistics.median(theirs) if theirs else None
            ratio = f"{o / th:.2f}x" if th else "—"
            ceiling = f"{o / (BANDWIDTH / size):.0%} of {BANDWIDTH / size:.0f}" if test == "tg128" and size else ""
            out.append(f"| {t} | {size / 2**20:.0f} MiB | {test} | {th if th is None else round(th, 1)} "
                       f"| {o:.1f} | {ratio} | {ceiling} |")
    print("\n".join(out))

if __name__ == "__main__":
    main(*sys.argv[1:4])

"""Medians of bench/batch_bench.sh's raw rows, as Markdown tables (one per workload).

usage: batch_summarize.py RAW.jsonl [--model PATH] [--model-desc TEXT] [--threads N]
                          [--llama-version TEXT] [--commit HASH] [--record [RESULTS.md]]

RAW holds one JSON object per measurement: loadgen.py's keys (llama-server) or
`citadel bench batch --json`'s (citadel), plus round, workload, server and prefix_hit_rate.
Rows marked "discarded" (repeated because other processes disturbed them) are left out.
Prints the tables; with --record also appends them to bench/RESULTS.md.
"""
import argparse, collections, datetime, json, os, platform, statistics, subprocess, sys

WORKLOADS = {  # as in batch_bench.sh
    "A": "16-word prompts, 128 output tokens (llama-server -np 16 -c 16384)",
    "B": "128-word prompts, 64 output tokens (llama-server -np 16 -c 16384)",
    "C": "1000-word shared prefix + 32-word prompts, 32 output tokens, 24 requests "
         "(llama-server -np 8 -c 16384)",
}
SERVERS = ("llama-server", "citadel")
BUSY = 0.2  # cores used by other processes during a measurement worth a note


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def nproc():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def median(rows, key):
    xs = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(xs) if xs else None


def fmt(x, digits=1):
    return "—" if x is None else f"{x:.{digits}f}"


def pair(a, b, digits=0):
    return f"{fmt(a, digits)} / {fmt(b, digits)}"


def hit(x):
    return "—" if x is None else f"{100 * x:.0f} %"


def tables(rows):
    by = collections.defaultdict(list)
    for r in rows:
        by[(r["workload"], int(r["concurrency"]), r["server"])].append(r)
    out, notes, busy = [], [], []
    for w in sorted({k[0] for k in by}):
        out += ["", f"**{w}**: {WORKLOADS.get(w, '')}", "",
                "| streams | requests | llama-server t/s | citadel t/s | ratio "
                "| TTFT p50 / p99 ms, llama-server | TTFT p50 / p99 ms, citadel "
                "| ITL p50 ms, llama-server / citadel | prefix hit, llama-server / citadel |",
                "|---|---|---|---|---|---|---|---|---|"]
        for c in sorted({k[1] for k in by if k[0] == w}):
            th, ours = by.get((w, c, "llama-server"), []), by.get((w, c, "citadel"), [])
            m = {s: {k: median(rs, k) for k in ("output_tok_s", "ttft_p50_ms", "ttft_p99_ms",
                                                  "itl_p50_ms", "prefix_hit_rate")}
                 for s, rs in (("llama-server", th), ("citadel", ours))}
            t, o = m["llama-server"]["output_tok_s"], m["citadel"]["output_tok_s"]
            ratio = f"{o / t:.2f}x" if t and o else "—"
            reqs = (th or ours)[0].get("requests", "")
            out.append(
                f"| {c} | {reqs} | {fmt(t)} | {fmt(o)} | {ratio} "
                f"| {pair(m['llama-server']['ttft_p50_ms'], m['llama-server']['ttft_p99_ms'])} "
                f"| {pair(m['citadel']['ttft_p50_ms'], m['citadel']['ttft_p99_ms'])} "
                f"| {pair(m['llama-server']['itl_p50_ms'], m['citadel']['itl_p50_ms'], 1)} "
                f"| {hit(m['llama-server']['prefix_hit_rate'])} / {hit(m['citadel']['prefix_hit_rate'])} |")
            for s, rs in (("llama-server", th), ("citadel", ours)):
                bad = [r for r in rs if r.get("errors") or
                       (r.get("ok") is not None and r.get("ok") != r.get("requests"))]
                busy += [f"{s}, workload {w}, {c} streams, round {r['round']}: {r['other_cores']:.2f}"
                         for r in rs if (r.get("other_cores") or 0) > BUSY]
                for r in bad:
                    notes.append(f"{s}, workload {w}, {c} streams, round {r['round']}: "
                                 f"{r.get('ok')} of {r.get('requests')} requests completed, "
                                 f"{r.get('errors')} errors")
    if notes:
        out += ["", "Failed requests (the t/s above count completed ones only):", ""]
        out += [f"- {n}" for n in notes]
    if busy:
        out += ["", "Measured while other processes were using CPU (cores, on average, "
                "after the retries):", ""]
        out += [f"- {n}" for n in busy]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("--model", default="")
    ap.add_argument("--model-desc", default="")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--llama-version", default="")
    ap.add_argument("--commit", default="", help="citadel commit (default: git HEAD now)")
    ap.add_argument("--record", nargs="?", const="bench/RESULTS.md", default=None,
                    help="append to this file (default bench/RESULTS.md)")
    a = ap.parse_args()
    rows = [json.loads(line) for line in open(a.raw) if line.strip()]
    discarded = sum(1 for r in rows if r.get("discarded"))
    rows = [r for r in rows if not r.get("discarded")]
    if not rows:
        sys.exit(f"{a.raw}: no measurements")
    commit = a.commit or subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                                        capture_output=True, text=True).stdout.strip()
    rounds = len({r["round"] for r in rows})
    size = os.path.getsize(a.model) if a.model and os.path.exists(a.model) else 0
    model = a.model_desc or os.path.basename(a.model) or "model"
    if size:
        model += f", {size / 2**20:.0f} MiB"
    servers = [s for s in SERVERS if any(r["server"] == s for r in rows)]
    lines = [f"\n### Multi-stream serving vs llama-server — "
             f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d}, {nproc()} cores, "
             f"{cpu_model()}, commit {commit}", "",
             f"Qwen2.5-0.5B shape ({model}), {a.threads} threads, medians of {rounds} "
             f"round{'s' if rounds != 1 else ''}. llama-server"
             f"{' ' + a.llama_version if a.llama_version else ''} under "
             "../shared/tools/loadgen.py (closed loop, streaming, ignore_eos, greedy), a fresh "
             "server per row; citadel: `citadel bench batch` on the same prompts. t/s is "
             "aggregate output tokens/s; ITL is the gap between streamed tokens; prefix hit is "
             "the share of prompt tokens not evaluated (llama-server: 1 − /metrics "
             "prompt_tokens_total / tokens sent)."
             + ("" if len(servers) == 2 else f" Measured: {', '.join(servers)} only.")
             + (f" {discarded} measurement{'s' if discarded != 1 else ''} disturbed by other "
                "processes were repeated." if discarded else "")]
    lines += tables(rows)
    text = "\n".join(lines)
    print(text)
    if a.record:
        with open(a.record, "a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()

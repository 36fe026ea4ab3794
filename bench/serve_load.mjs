#!/usr/bin/env node
// Connection load on `citadel serve` (issue 5): holds 1,000 idle keep-alive connections open
// while 64 streaming chat requests run, checks every one of them, and measures the server's
// own overhead per request: client-observed latency minus the engine's time for the request
// (the Server-Timing header of a non-streamed reply), over sequential one-token requests.
//
//   node bench/serve_load.mjs [--citadel build/citadel] [--model FILE] [--idle 1000]
//       [--streams 64] [--tokens 32] [--overhead-requests 200] [--rounds 3] [--record]
//
// Without --model a tiny random-weights Qwen3-shaped model is synthesized (the Qwen tokenizer
// from ../shared when present). --record appends a Markdown table of the medians over the
// rounds to bench/RESULTS.md with the date, machine and commit. Node.js built-ins only.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, appendFileSync, existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = parseArgs(process.argv.slice(2));
const citadel = args.citadel ?? path.join(root, 'build/citadel');
const shared = process.env.SHARED_DIR ?? path.join(root, '../shared');
const N_IDLE = +(args.idle ?? 1000), N_STREAMS = +(args.streams ?? 64);
const TOKENS = +(args.tokens ?? 32), N_OVERHEAD = +(args['overhead-requests'] ?? 200);
const ROUNDS = +(args.rounds ?? 3);

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '');
    if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) out[k] = argv[++i];
    else out[k] = true;
  }
  return out;
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};
const median = (xs) => pct(xs, 50);

function makeModel() {
  if (args.model) return args.model;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'citadel-load-'));
  const file = path.join(dir, 'tiny.gguf');
  const tok = path.join(shared, 'reference/tokenizer/hf/qwen3');
  const extra = existsSync(tok) ? ['--tokenizer', tok] : [];
  execFileSync(citadel, ['synth', '--preset', 'tiny-qwen3', '--type', 'q8_0', '-o', file, ...extra]);
  return file;
}

async function startServer(model) {
  const proc = spawn(citadel, ['serve', '-m', `m=${model}`, '--port', '0', '--kv-mem', '256MiB',
    '-c', '1024', '--max-seqs', String(N_STREAMS), '--max-connections', String(N_IDLE + 512),
    '--idle-timeout', '10m', '--no-auth', '--no-audit', '--data-dir', os.tmpdir()],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const port = await new Promise((resolve, reject) => {
    proc.stderr.on('data', (d) => {
      log += d;
      const m = log.match(/listening on http:\/\/[^:]+:(\d+)/);
      if (m) resolve(+m[1]);
    });
    proc.on('exit', (code) => reject(new Error(`citadel serve exited ${code}: ${log}`)));
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    const r = await fetch(`${base}/ready`).catch(() => null);
    if (r && r.status === 200) return { proc, base, port };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('model did not load in 60 s');
}

// Opens n connections, each doing one keep-alive GET /health, then left open and idle.
async function openIdle(port, n) {
  const socks = [];
  let ok = 0;
  const one = () => new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    s.on('error', () => resolve());
    s.on('connect', () => s.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'));
    s.on('data', (d) => {
      buf += d;
      if (buf.includes('\r\n\r\n') && buf.includes('"ok"')) { ok++; resolve(); }
    });
    socks.push(s);
  });
  for (let i = 0; i < n; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, n - i) }, one));
  }
  return { socks, ok };
}

// Checks the idle connections are still usable: each answers a second GET /health.
async function recheck(socks) {
  let ok = 0;
  await Promise.all(socks.map((s) => new Promise((resolve) => {
    if (s.destroyed) return resolve();
    let buf = '';
    const t = setTimeout(resolve, 10000);
    s.removeAllListeners('data');
    s.on('data', (d) => {
      buf += d;
      if (buf.includes('"ok"')) { ok++; clearTimeout(t); resolve(); }
    });
    s.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  })));
  for (const s of socks) s.destroy();
  return ok;
}

async function stream(base, i) {
  const t0 = performance.now();
  const r = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', stream: true, max_tokens: TOKENS, ignore_eos: true,
      seed: i, messages: [{ role: 'user', content: `Request ${i}: tell me a story.` }] }),
  });
  if (r.status !== 200) return { ok: false, status: r.status };
  let ttft = null, chunks = 0, done = false, text = '';
  const dec = new TextDecoder();
  for await (const part of r.body) {
    text += dec.decode(part, { stream: true });
    const events = text.split('\n\n');
    text = events.pop();
    for (const e of events) {
      if (e === 'data: [DONE]') { done = true; continue; }
      const j = JSON.parse(e.slice(6));
      if (j.choices?.[0]?.delta?.content) { chunks++; ttft ??= performance.now() - t0; }
    }
  }
  return { ok: done, ttft, ms: performance.now() - t0, chunks };
}

async function overhead(base) {
  const over = [], total = [];
  for (let i = 0; i < N_OVERHEAD; i++) {
    const t0 = performance.now();
    const r = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: `hi ${i}` }] }),
    });
    await r.text();
    const ms = performance.now() - t0;
    const m = (r.headers.get('server-timing') ?? '').match(/engine;dur=([\d.]+)/);
    if (r.status === 200 && m) { over.push(ms - +m[1]); total.push(ms); }
  }
  return { over, total };
}

async function round(base, port) {
  const idle = await openIdle(port, N_IDLE);
  const t0 = performance.now();
  const res = await Promise.all(Array.from({ length: N_STREAMS }, (_, i) => stream(base, i)));
  const wall = (performance.now() - t0) / 1000;
  const still = await recheck(idle.socks);
  const { over, total } = await overhead(base);
  const good = res.filter((r) => r.ok);
  return {
    idle_open: idle.ok, idle_after: still, streams_ok: good.length,
    stream_errors: res.length - good.length,
    tokens_per_s: good.reduce((a, r) => a + r.chunks, 0) / wall,
    ttft_p50_ms: pct(good.map((r) => r.ttft), 50), ttft_p99_ms: pct(good.map((r) => r.ttft), 99),
    overhead_p50_ms: pct(over, 50), overhead_p99_ms: pct(over, 99), latency_p50_ms: pct(total, 50),
  };
}

const model = makeModel();
const { proc, base, port } = await startServer(model);
const rows = [];
try {
  for (let i = 0; i < ROUNDS; i++) {
    const r = await round(base, port);
    console.log(JSON.stringify(r));
    rows.push(r);
  }
} finally {
  proc.kill('SIGTERM');
}
const med = Object.fromEntries(Object.keys(rows[0]).map((k) => [k, median(rows.map((r) => r[k]))]));
console.log(JSON.stringify({ median: med }));
if (args.record) {
  const cpu = (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1] ?? '?';
  const commit = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD']).toString().trim();
  const date = new Date().toISOString().slice(0, 10);
  const f = (x) => (typeof x === 'number' ? (Number.isInteger(x) ? x : x.toFixed(2)) : x);
  appendFileSync(path.join(root, 'bench/RESULTS.md'), `
### Serving connections and overhead (bench/serve_load.mjs) — ${date}, ${os.cpus().length} cores, ${cpu}, commit ${commit}

${args.model ? path.basename(args.model) : 'tiny-qwen3 synthetic model (q8_0)'}; ${N_IDLE} idle keep-alive connections held open while ${N_STREAMS} streaming chat requests of ${TOKENS} tokens run; then ${N_OVERHEAD} sequential one-token requests: overhead = client latency − the engine's time (Server-Timing). Medians of ${ROUNDS} rounds.

| idle conns opened / still answering | streams ok / errors | stream tokens/s | TTFT p50 / p99 ms | overhead p50 / p99 ms | one-token latency p50 ms |
|---|---|---|---|---|---|
| ${f(med.idle_open)} / ${f(med.idle_after)} | ${f(med.streams_ok)} / ${f(med.stream_errors)} | ${f(med.tokens_per_s)} | ${f(med.ttft_p50_ms)} / ${f(med.ttft_p99_ms)} | ${f(med.overhead_p50_ms)} / ${f(med.overhead_p99_ms)} | ${f(med.latency_p50_ms)} |
`);
}

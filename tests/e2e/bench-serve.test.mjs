// `citadel bench serve` against a real `citadel serve`: its numbers agree with the server's own
// /metrics for the same run; open loop, /v1/completions, --compare, --sweep and --chart work;
// and against servers that fail (wrong key, unknown model, nothing listening, dropped
// connections, a server that hangs, one that sends no usage) it says so clearly.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import nodeHttp from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CITADEL, expectCleanExit, sleep, startServer, tempDataDir, tinyModel } from './lib/harness.mjs';
import { createKey, freePort, makeCerts, parseMetrics } from './lib/gateway.mjs';
import https from 'node:https';

// Runs `citadel bench serve ARGS`; resolves {code, stdout, stderr, json}.
function bench(args, { env = {}, timeoutMs = 120000 } = {}) {
  return new Promise((resolve) => {
    const p = spawn(CITADEL, ['bench', 'serve', '--no-progress', ...args], {
      env: { ...process.env, OPENAI_API_KEY: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      let json;
      try {
        json = JSON.parse(stdout);
      } catch {}
      resolve({ code, signal, stdout, stderr, json });
    });
  });
}

// Sum of every series of `name` whose labels include model_name="tiny".
function sumTiny(m, name) {
  let s = 0;
  for (const [k, v] of m) {
    if ((k === name || k.startsWith(`${name}{`)) && k.includes('model_name="tiny"')) s += v;
  }
  return s;
}

describe('bench serve against citadel serve', () => {
  let server;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'citadel-bench-serve-'));
  before(async () => {
    server = await startServer({ extra: ['--public-metrics'] });
  });
  after(async () => {
    if (server) await expectCleanExit(server);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const scrape = async () => {
    const r = await fetch(`${server.url}/metrics`);
    assert.equal(r.status, 200);
    return parseMetrics(await r.text());
  };
  // Engine counters are published after each engine step: wait until they have caught up.
  const scrapeUntil = async (ok) => {
    const deadline = Date.now() + 5000;
    for (;;) {
      const m = await scrape();
      if (ok(m) || Date.now() > deadline) return m;
      await sleep(20);
    }
  };

  test('its counts and TTFT agree with /metrics for the same run', async () => {
    const before = await scrape();
    const r = await bench(['--url', server.url, '--model', 'tiny', '-n', '12', '-c', '3',
      '--input-len', '12', '--output-len', '6', '--slo-ttft-ms', '60000', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const run = r.json.points[0].runs[0];
    assert.equal(run.completed, 12, JSON.stringify(run.errors));
    assert.equal(run.failed, 0);
    assert.equal(run.output_tokens, 12 * 6); // ignore_eos: exactly max_tokens each
    assert.equal(run.usage_from_server, true);
    assert.ok(run.prompt_tokens >= 12 * 12, `prompt tokens ${run.prompt_tokens}`);
    assert.equal(run.good_requests, 12);
    assert.equal(run.tpot_ms.count, 12);
    // ITL gaps are between chunks that carry text: a token that ends inside a UTF-8 character
    // is sent with the next one, so a request may have fewer than 6 - 1 gaps.
    assert.ok(run.itl_ms.count <= 12 * 5 && run.itl_ms.count >= 12 * 3, `ITL count ${run.itl_ms.count}`);
    assert.ok(run.output_throughput > 0 && run.request_throughput > 0);
    assert.ok(run.ttft_ms.p99 >= run.ttft_ms.median && run.e2e_ms.mean >= run.ttft_ms.mean);

    const gen = 'citadel:generation_tokens_total';
    const now = await scrapeUntil((m) => sumTiny(m, gen) - sumTiny(before, gen) >= 12 * 6);
    const delta = (name) => sumTiny(now, name) - sumTiny(before, name);
    assert.equal(delta('citadel:request_success_total'), run.completed);
    assert.equal(delta(gen), run.output_tokens);
    assert.equal(delta('citadel:prompt_tokens_total'), run.prompt_tokens);
    const ttftCount = delta('citadel:time_to_first_token_seconds_count');
    assert.equal(ttftCount, run.completed);
    const serverTtftMs = (1000 * delta('citadel:time_to_first_token_seconds_sum')) / ttftCount;
    // The client also sees the HTTP round trip; on loopback that is small.
    assert.ok(Math.abs(run.ttft_ms.mean - serverTtftMs) <= 0.5 * serverTtftMs + 25,
      `client TTFT mean ${run.ttft_ms.mean} ms vs server ${serverTtftMs} ms`);
  });

  test('warm-up requests are sent but not counted', async () => {
    const before = await scrape();
    const r = await bench(['--url', server.url, '--model', 'tiny', '-n', '4', '-c', '2', '--warmup', '3',
      '--input-len', '8', '--output-len', '3', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const run = r.json.points[0].runs[0];
    assert.equal(run.completed, 4);
    const gen = 'citadel:generation_tokens_total';
    const now = await scrapeUntil((m) => sumTiny(m, gen) - sumTiny(before, gen) >= 7 * 3);
    assert.equal(sumTiny(now, 'citadel:request_success_total') - sumTiny(before, 'citadel:request_success_total'), 7);
    assert.equal(sumTiny(now, gen) - sumTiny(before, gen), 7 * 3);
  });

  test('Poisson arrivals with a cap, and /v1/completions', async () => {
    const r = await bench(['--url', `${server.url}/v1`, '--model', 'tiny', '--rate', '50', '--max-concurrency', '2',
      '-n', '10', '--seed', '7', '--endpoint', 'completions', '--input-len', '8', '--output-len', '4', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const pt = r.json.points[0];
    assert.deepEqual(pt.load, { rate: 50, max_concurrency: 2 });
    assert.equal(pt.runs[0].completed, 10);
    assert.equal(pt.runs[0].output_tokens, 40);
  });

  test('--compare, --sweep and --chart: two servers, two levels, ratios and an SVG', async () => {
    const chart = path.join(tmp, 'chart.svg');
    const r = await bench(['--url', server.url, '--model', 'tiny', '--compare', server.url, '--compare-model', 'stories',
      '--name', 'tiny', '--compare-name', 'stories', '--sweep', '1,2', '-n', '4', '--input-len', '8',
      '--output-len', '4', '--chart', chart, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.points.length, 2);
    assert.deepEqual(r.json.points.map((p) => p.load.concurrency), [1, 2]);
    for (const p of r.json.points) {
      assert.deepEqual(p.runs.map((x) => [x.label, x.model, x.completed]), [['tiny', 'tiny', 4], ['stories', 'stories', 4]]);
      const ratio = p.ratio_b_over_a.output_throughput;
      assert.ok(Math.abs(ratio - p.runs[1].output_throughput / p.runs[0].output_throughput) < 1e-9);
    }
    const svg = fs.readFileSync(chart, 'utf8');
    assert.match(svg, /^<\?xml[^>]*>\s*<svg /);
    assert.match(svg, /<\/svg>\s*$/);
    assert.equal((svg.match(/<polyline /g) || []).length, 1 + 4); // axes + p50/p99 per server
    assert.match(svg, />tiny p50</);
    assert.match(svg, />stories p99</);
  });

  test('text output: a table with a B/A column', async () => {
    const r = await bench(['--url', server.url, '--compare', server.url, '-n', '2', '--input-len', '8', '--output-len', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /=== concurrency 1 ===/);
    assert.match(r.stdout, /B\/A/);
    assert.match(r.stdout, /Output token throughput \(tok\/s\)/);
    assert.match(r.stdout, /TPOT p99 \(ms\)/);
  });

  test('a dataset file; a bad line is named', async () => {
    const good = path.join(tmp, 'good.jsonl');
    fs.writeFileSync(good, [
      JSON.stringify({ conversations: [{ from: 'human', value: 'Tell me a story.' }, { from: 'gpt', value: 'Once upon a time' }] }),
      JSON.stringify({ prompt: 'Hello there', max_tokens: 3 }),
    ].join('\n'));
    let r = await bench(['--url', server.url, '--model', 'tiny', '--dataset', good, '-n', '4', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.points[0].runs[0].completed, 4);
    // "Once upon a time" = 16 characters = 4 tokens; the other asks for 3: two of each.
    assert.equal(r.json.points[0].runs[0].output_tokens, 2 * 4 + 2 * 3);
    const bad = path.join(tmp, 'bad.jsonl');
    fs.writeFileSync(bad, '{"prompt": "ok"}\n{"prompt": unquoted}\n');
    r = await bench(['--url', server.url, '--model', 'tiny', '--dataset', bad, '-n', '2']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /bad\.jsonl line 2: not valid JSON/);
  });

  test('an unknown model stops the run with the server\'s message', async () => {
    const r = await bench(['--url', server.url, '--model', 'no-such-model', '-n', '20', '-c', '2']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /refused the requests \(model 'no-such-model'\): HTTP 404: .*no-such-model/);
  });
});

describe('bench serve against servers that fail', () => {
  test('a wrong API key: a clear message and a non-zero exit', async () => {
    const dir = tempDataDir();
    const key = createKey(path.join(dir, 'keys.db'), 'bench');
    const server = await startServer({
      args: ['-m', `tiny=${tinyModel()}`, '--port', '0', '--host', '127.0.0.1', '--kv-mem', '64MiB', '-c', '1024',
        '-t', '1', '--data-dir', dir],
    });
    try {
      let r = await bench(['--url', server.url, '--model', 'tiny', '-n', '3', '--api-key', 'ck_wrong']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /refused the credentials \(HTTP 401\): .+ -- give --api-key or set OPENAI_API_KEY/);
      // The key from the environment works.
      r = await bench(['--url', server.url, '--model', 'tiny', '-n', '2', '--output-len', '2', '--json'],
        { env: { OPENAI_API_KEY: key } });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.json.points[0].runs[0].completed, 2);
    } finally {
      await expectCleanExit(server);
    }
  });

  test('https: verified with --ca-file, refused without it, allowed with --insecure', async () => {
    const dir = tempDataDir();
    const certs = makeCerts(dir);
    const readyFetch = (url) => new Promise((resolve, reject) => {
      https.get(url, { rejectUnauthorized: false }, (res) => {
        res.resume();
        resolve({ status: res.statusCode, arrayBuffer: async () => {} });
      }).on('error', reject);
    });
    const server = await startServer({
      extra: ['--tls-cert', certs.cert, '--tls-key', certs.key, '--data-dir', dir], readyFetch,
    });
    try {
      assert.equal(server.scheme, 'https');
      const args = ['--url', server.url, '--model', 'tiny', '-n', '3', '--output-len', '2', '--json'];
      let r = await bench([...args, '--ca-file', certs.ca]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.json.points[0].runs[0].completed, 3);
      r = await bench(args);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /cannot reach https:\/\/127\.0\.0\.1:\d+: TLS handshake with 127\.0\.0\.1:\d+ failed \(--ca-file trusts a CA, --insecure skips the checks\): certificate verify failed/);
      r = await bench([...args, '--insecure']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.json.points[0].runs[0].completed, 3);
      r = await bench([...args, '--ca-file', path.join(dir, 'missing.pem')]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /cannot load --ca-file .*missing\.pem/);
    } finally {
      await expectCleanExit(server);
    }
  });

  test('nothing listening, or a bad URL: clear messages', async () => {
    const port = await freePort();
    let r = await bench(['--url', `http://127.0.0.1:${port}`, '-n', '2']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`cannot reach http://127.0.0.1:${port}: cannot connect to 127.0.0.1:${port}`));
    r = await bench(['--url', 'localhost:8080', '-n', '2']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad URL 'localhost:8080': expected http:\/\/host\[:port\]/);
  });

  // A fake OpenAI server: `behave(n, req, res)` answers the n-th POST.
  async function fakeServer(behave) {
    let n = 0;
    const s = nodeHttp.createServer((req, res) => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ object: 'list', data: [{ id: 'fake', object: 'model' }] }));
      }
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => behave(n++, JSON.parse(body), req, res));
    });
    await new Promise((r) => s.listen(0, '127.0.0.1', r));
    s.url = `http://127.0.0.1:${s.address().port}`;
    return s;
  }
  const stream = async (res, pieces, { usage } = {}) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const p of pieces) {
      res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: p } }] })}\n\n`);
      await sleep(2);
    }
    if (usage) res.write(`data: ${JSON.stringify({ choices: [], usage })}\n\n`);
    res.end('data: [DONE]\n\n');
  };

  test('connections cut mid-stream are failed requests and the run goes on', async () => {
    const s = await fakeServer((n, body, req, res) => {
      if (n % 2 === 1) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'a' } }] })}\n\n`);
        return setTimeout(() => req.socket.destroy(), 5);
      }
      stream(res, ['a', 'b', 'c'], { usage: { prompt_tokens: 5, completion_tokens: 3 } });
    });
    try {
      const r = await bench(['--url', s.url, '-n', '8', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const run = r.json.points[0].runs[0];
      assert.equal(run.completed, 4);
      assert.equal(run.failed, 4);
      assert.equal(r.json.config.targets[0].model, 'fake'); // from GET /v1/models
      assert.match(run.errors[0].message, /the stream was cut/);
      assert.equal(run.output_tokens, 12);
      assert.equal(run.prompt_tokens, 20);
    } finally {
      s.close();
      s.closeAllConnections();
    }
  });

  test('a server that closes each connection after its answer: no failures, no request sent twice', async () => {
    let posts = 0;
    const s = await fakeServer(async (n, body, req, res) => {
      posts++;
      await stream(res, ['a', 'b'], { usage: { prompt_tokens: 2, completion_tokens: 2 } });
      req.socket.destroy(); // no "Connection: close": the client finds out on its own
    });
    try {
      const r = await bench(['--url', s.url, '-n', '20', '-c', '2', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const run = r.json.points[0].runs[0];
      assert.equal(run.completed, 20, JSON.stringify(run.errors));
      assert.equal(posts, 20);
    } finally {
      s.close();
      s.closeAllConnections();
    }
  });

  test('an error body that is not UTF-8 still gives valid JSON output', async () => {
    const s = await fakeServer((n, body, req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(Buffer.concat([Buffer.from('broken \xff\xfe '.repeat(1), 'latin1'), Buffer.from('é'.repeat(200))]));
    });
    try {
      const r = await bench(['--url', s.url, '-n', '2', '--json']);
      assert.equal(r.code, 1);
      assert.ok(r.json, `stdout is not JSON: ${r.stdout.slice(0, 200)}`);
      const run = r.json.points[0].runs[0];
      assert.equal(run.failed, 2);
      assert.match(run.errors[0].message, /^HTTP 500: broken /);
    } finally {
      s.close();
      s.closeAllConnections();
    }
  });

  test('without usage, output tokens are the chunks; stream_options and ignore_eos are sent', async () => {
    const bodies = [];
    const s = await fakeServer((n, body, req, res) => {
      bodies.push(body);
      stream(res, ['x', '', 'y', 'z', 'w']);
    });
    try {
      let r = await bench(['--url', s.url, '-n', '3', '--output-len', '9', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const run = r.json.points[0].runs[0];
      assert.equal(run.output_tokens, 3 * 4); // the empty chunk carries no text
      assert.equal(run.usage_from_server, false);
      assert.deepEqual(bodies[0].stream_options, { include_usage: true });
      assert.equal(bodies[0].stream, true);
      assert.equal(bodies[0].max_tokens, 9);
      assert.equal(bodies[0].ignore_eos, true);
      assert.equal(bodies[0].messages[0].role, 'user');
      assert.equal(bodies[0].temperature, undefined);
      r = await bench(['--url', s.url, '-n', '1', '--no-ignore-eos', '--temperature', '0']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /the server sent no usage/);
      assert.equal(bodies.at(-1).ignore_eos, undefined);
      assert.equal(bodies.at(-1).temperature, 0);
    } finally {
      s.close();
      s.closeAllConnections();
    }
  });

  test('a server that hangs: --timeout fails the requests, no hang', async () => {
    const s = await fakeServer((n, body, req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'a' } }] })}\n\n`);
      // ...and nothing more.
    });
    try {
      const t0 = Date.now();
      const r = await bench(['--url', s.url, '-n', '3', '-c', '3', '--timeout', '0.5', '--json']);
      assert.ok(Date.now() - t0 < 10000, 'it returned promptly');
      assert.equal(r.code, 1);
      assert.match(r.stderr, /no request completed/);
      const run = r.json.points[0].runs[0];
      assert.equal(run.failed, 3);
      assert.match(run.errors[0].message, /no complete answer within 500 ms \(--timeout\)/);
    } finally {
      s.close();
      s.closeAllConnections();
    }
  });
});

// GET /metrics on a real server: scrape, run a scripted load (chats, a stream, an input with
// PII, denied and rate-limited requests, an unknown route), scrape again and check that each
// metric moved by what the load did; and the scrape passes `promtool check metrics`.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { expectCleanExit, sleep, startServer, tempDataDir, tinyModel } from './lib/harness.mjs';
import { call, createKey, parseMetrics, promtoolProblems } from './lib/gateway.mjs';

const MAX_TOKENS = 4;
const chat = (extra = {}) => ({
  model: 'tiny', messages: [{ role: 'user', content: 'hello there' }], max_tokens: MAX_TOKENS, ignore_eos: true, ...extra,
});

// 'name' + {a: 'x', b: 'y'} -> 'name{a="x",b="y"}' (in the order given: the server's).
const key = (name, labels = {}) => {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return parts.length ? `${name}{${parts.join(',')}}` : name;
};

describe('metrics', () => {
  let server, dir, admin, user, viewer;
  before(async () => {
    dir = tempDataDir();
    const db = path.join(dir, 'keys.db');
    admin = createKey(db, 'admin', ['--role', 'admin']);
    user = createKey(db, 'user', []);
    viewer = createKey(db, 'viewer', ['--role', 'viewer']);
    const limited = createKey(db, 'rpm1', ['--rpm', '1']);
    server = await startServer({
      args: ['-m', `tiny=${tinyModel()}`, '--port', '0', '--host', '127.0.0.1', '--kv-mem', '64MiB', '-c', '1024',
        '-t', '1', '--data-dir', dir, '--pii-input', 'redact'],
    });
    server.limitedKey = limited;
  });
  after(async () => {
    if (server) await expectCleanExit(server);
  });

  const scrape = async () => {
    const r = await call(server, 'GET', '/metrics', undefined, admin);
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    return r.text;
  };

  test('a scripted load moves the metrics by what it did; promtool accepts the scrape', async () => {
    const before = parseMetrics(await scrape());
    let promptTokens = 0;
    // 5 chats, one with an e-mail address (redacted by the input guard).
    for (let i = 0; i < 5; ++i) {
      const content = i === 0 ? 'mail me at jane.doe@example.com' : `hello ${i}`;
      const r = await call(server, 'POST', '/v1/chat/completions', chat({ messages: [{ role: 'user', content }] }), user);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.usage.completion_tokens, MAX_TOKENS);
      promptTokens += r.json.usage.prompt_tokens;
    }
    // 1 stream.
    const s = await call(server, 'POST', '/v1/chat/completions',
      chat({ stream: true, stream_options: { include_usage: true } }), user);
    assert.equal(s.status, 200, s.text);
    const usage = s.text.split('\n').filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6))).find((c) => c.usage)?.usage;
    assert.ok(usage, s.text);
    promptTokens += usage.prompt_tokens;
    // Denied: a wrong key, no key.
    assert.equal((await call(server, 'POST', '/v1/chat/completions', chat(), 'ck_wrong')).status, 401);
    assert.equal((await call(server, 'POST', '/v1/chat/completions', chat())).status, 401);
    // Rate-limited: the second request of a key allowed 1 per minute.
    const first = await call(server, 'POST', '/v1/chat/completions', chat(), server.limitedKey);
    assert.equal(first.status, 200, first.text);
    promptTokens += first.json.usage.prompt_tokens;
    const limited = await call(server, 'POST', '/v1/chat/completions', chat(), server.limitedKey);
    assert.equal(limited.status, 429, limited.text);
    // An unknown route.
    assert.equal((await call(server, 'GET', '/no/such/route', undefined, admin)).status, 404);

    const finished = 7; // 5 chats, the stream, the rate-limited key's first
    // Engine counters are published after each engine step: poll until they have caught up.
    let text, now;
    const deadline = Date.now() + 5000;
    for (;;) {
      text = await scrape();
      now = parseMetrics(text);
      const gen = now.get(key('citadel:generation_tokens_total', { model_name: 'tiny' })) ?? 0;
      const before_gen = before.get(key('citadel:generation_tokens_total', { model_name: 'tiny' })) ?? 0;
      if (gen - before_gen >= finished * MAX_TOKENS || Date.now() > deadline) break;
      await sleep(20);
    }
    const delta = (name, labels) => (now.get(key(name, labels)) ?? 0) - (before.get(key(name, labels)) ?? 0);
    const tiny = { model_name: 'tiny' };

    assert.equal(delta('citadel:request_success_total', { ...tiny, finished_reason: 'length' }), finished, text);
    assert.equal(delta('citadel:generation_tokens_total', tiny), finished * MAX_TOKENS);
    assert.equal(delta('citadel:prompt_tokens_total', tiny), promptTokens);
    for (const h of ['time_to_first_token_seconds', 'e2e_request_latency_seconds', 'request_queue_time_seconds',
      'request_prefill_time_seconds', 'request_decode_time_seconds']) {
      assert.equal(delta(`citadel:${h}_count`, tiny), finished, h);
      assert.equal(delta(`citadel:${h}_bucket`, { ...tiny, le: '+Inf' }), finished, h);
      assert.ok(delta(`citadel:${h}_sum`, tiny) >= 0, h);
    }
    assert.equal(delta('citadel:inter_token_latency_seconds_count', tiny), finished * (MAX_TOKENS - 1));
    assert.equal(now.get(key('citadel:num_requests_running', tiny)), 0);
    assert.equal(now.get(key('citadel:num_requests_waiting', tiny)), 0);
    const kv = now.get(key('citadel:kv_cache_usage_perc', tiny));
    assert.ok(kv >= 0 && kv <= 1, `kv_cache_usage_perc ${kv}`);
    assert.ok(now.has(key('citadel:prefix_cache_queries_total', tiny)));
    assert.ok(now.has(key('citadel:num_preemptions_total', tiny)));

    const http = (route, method, status) => delta('citadel:http_requests_total', { route, method, status });
    assert.equal(http('/v1/chat/completions', 'POST', '200'), finished);
    assert.equal(http('/v1/chat/completions', 'POST', '401'), 2);
    assert.equal(http('/v1/chat/completions', 'POST', '429'), 1);
    assert.equal(http('unmatched', 'GET', '404'), 1);
    assert.ok(http('/metrics', 'GET', '200') >= 1, 'the first scrape is counted');

    const denied = (reason) => delta('citadel:gateway_denied_total', { reason });
    assert.equal(denied('invalid_api_key'), 1);
    assert.equal(denied('missing_api_key'), 1);
    assert.equal(denied('rate_limit_exceeded'), 1);
    assert.equal(delta('citadel:gateway_rate_limited_total', { limit: 'rpm' }), 1);
    assert.equal(delta('citadel:guard_actions_total', { guard: 'pii.input', action: 'redact', type: 'EMAIL' }), 1);

    assert.equal(now.get('citadel:models_loaded'), 1);
    assert.ok(now.get(key('citadel:model_load_seconds', tiny)) > 0);
    assert.ok(now.get('process_resident_memory_bytes') > 1e6);
    assert.ok(now.get('process_cpu_seconds_total') > 0);
    const start = now.get('process_start_time_seconds');
    assert.ok(Math.abs(start - Date.now() / 1000) < 3600, `process_start_time_seconds ${start}`);

    assert.deepEqual(promtoolProblems(text), []);
  });

  test('a viewer may read /metrics; no credential may not', async () => {
    assert.equal((await call(server, 'GET', '/metrics', undefined, viewer)).status, 200);
    const r = await call(server, 'GET', '/metrics');
    assert.equal(r.status, 401, r.text);
  });
});

// Per-key limits on a real server: requests/minute, tokens/minute, concurrency, with 429 +
// Retry-After + x-ratelimit-* headers; per-model concurrency caps; and the same limits held
// across two server processes that share a real Redis (and one SQLite key store).
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sleep, startServer, tempDataDir, tinyModel, expectCleanExit } from './lib/harness.mjs';
import { call, createKey, startRedis } from './lib/gateway.mjs';

const chat = (max_tokens = 2, extra = {}) => ({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens, ...extra });

function serverArgs(dir, extra = []) {
  return ['-m', `tiny=${tinyModel()}`, '--port', '0', '--host', '127.0.0.1', '--kv-mem', '64MiB', '-c', '1024', '-t', '1',
    '--data-dir', dir, ...extra];
}

describe('gateway: per-key limits (in-process)', () => {
  let server, dir, db;
  before(async () => {
    dir = tempDataDir();
    db = path.join(dir, 'keys.db');
    createKey(db, 'bootstrap', ['--role', 'admin']);
    server = await startServer({ args: serverArgs(dir, ['--model-concurrency', 'tiny=2']) });
  });
  after(async () => {
    if (server) await expectCleanExit(server);
  });

  test('requests per minute: the next one gets 429 with Retry-After and headers', async () => {
    const key = createKey(db, 'rpm3', ['--rpm', '3']);
    await sleep(1100);
    for (let i = 0; i < 3; ++i) {
      const r = await call(server, 'POST', '/v1/chat/completions', chat(), key);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-ratelimit-limit-requests'), '3');
      assert.equal(r.headers.get('x-ratelimit-remaining-requests'), String(2 - i));
    }
    const r = await call(server, 'POST', '/v1/chat/completions', chat(), key);
    assert.equal(r.status, 429, r.text);
    assert.equal(r.json.error.code, 'rate_limit_exceeded');
    assert.match(r.json.error.message, /requests per minute/);
    const retry = Number(r.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
    assert.equal(r.headers.get('x-ratelimit-remaining-requests'), '0');
    // Listing models is not inference: not counted, not limited.
    assert.equal((await call(server, 'GET', '/v1/models', undefined, key)).status, 200);
  });

  test('tokens per minute are charged as they stream', async () => {
    const key = createKey(db, 'tpm', ['--tpm', '40']);
    await sleep(1100);
    const first = await call(server, 'POST', '/v1/chat/completions', chat(40, { ignore_eos: true }), key);
    assert.equal(first.status, 200, first.text);
    await sleep(200); // charges are applied off the request path within ~50 ms
    const second = await call(server, 'POST', '/v1/chat/completions', chat(), key);
    assert.equal(second.status, 429, second.text);
    assert.match(second.json.error.message, /tokens per minute/);
    assert.equal(second.headers.get('x-ratelimit-remaining-tokens'), '0');
  });

  test('daily token quota answers insufficient_quota', async () => {
    const key = createKey(db, 'daily', ['--daily-tokens', '10']);
    await sleep(1100);
    assert.equal((await call(server, 'POST', '/v1/chat/completions', chat(20, { ignore_eos: true }), key)).status, 200);
    await sleep(200);
    const r = await call(server, 'POST', '/v1/chat/completions', chat(), key);
    assert.equal(r.status, 429, r.text);
    assert.equal(r.json.error.code, 'insufficient_quota');
  });

  test('concurrent requests per key', async () => {
    const key = createKey(db, 'one-at-a-time', ['--max-concurrent', '1']);
    await sleep(1100);
    const ctl = new AbortController();
    const long = fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST', signal: ctl.signal,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(chat(400, { ignore_eos: true, stream: true })),
    });
    const res = await long;
    assert.equal(res.status, 200);
    const reader = res.body.getReader();
    await reader.read(); // the stream has started: the slot is held
    const second = await call(server, 'POST', '/v1/chat/completions', chat(), key);
    assert.equal(second.status, 429, second.text);
    assert.match(second.json.error.message, /concurrent/);
    ctl.abort();
    await reader.read().catch(() => {});
    const deadline = Date.now() + 5000;
    let status;
    do {
      await sleep(100);
      status = (await call(server, 'POST', '/v1/chat/completions', chat(), key)).status;
    } while (status !== 200 && Date.now() < deadline);
    assert.equal(status, 200, 'the slot is released when the client goes away');
  });

  test('per-model concurrency cap protects the engine', async () => {
    const key = createKey(db, 'many', []);
    await sleep(1100);
    const ctls = [new AbortController(), new AbortController()];
    const readers = [];
    for (const ctl of ctls) {
      const res = await fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST', signal: ctl.signal,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(chat(400, { ignore_eos: true, stream: true })),
      });
      assert.equal(res.status, 200);
      const reader = res.body.getReader();
      await reader.read();
      readers.push(reader);
    }
    const third = await call(server, 'POST', '/v1/chat/completions', chat(), key);
    assert.equal(third.status, 429, third.text);
    assert.equal(third.json.error.code, 'model_concurrency_limit');
    for (const c of ctls) c.abort();
    for (const r of readers) await r.read().catch(() => {});
  });
});

describe('gateway: limits shared across two servers through Redis', () => {
  let redis, a, b, dir, db;
  before(async () => {
    dir = tempDataDir();
    db = path.join(dir, 'keys.db');
    redis = await startRedis(dir);
    a = await startServer({ args: serverArgs(dir, ['--redis', redis.url, '--audit-log', path.join(dir, 'a.jsonl')]) });
    b = await startServer({ args: serverArgs(dir, ['--redis', redis.url, '--audit-log', path.join(dir, 'b.jsonl')]) });
  });
  after(async () => {
    if (a) await expectCleanExit(a);
    if (b) await expectCleanExit(b);
    if (redis) await redis.stop();
  });

  test('rpm 4 holds across both replicas', async () => {
    const key = createKey(db, 'shared', ['--rpm', '4']);
    await sleep(1200);
    const statuses = [];
    for (const s of [a, b, a, b, a, b]) statuses.push((await call(s, 'POST', '/v1/chat/completions', chat(), key)).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429]);
  });

  test('concurrency slots are shared too', async () => {
    const key = createKey(db, 'shared-one', ['--max-concurrent', '1']);
    await sleep(1200);
    const ctl = new AbortController();
    const res = await fetch(`${a.url}/v1/chat/completions`, {
      method: 'POST', signal: ctl.signal,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(chat(400, { ignore_eos: true, stream: true })),
    });
    const reader = res.body.getReader();
    await reader.read();
    const other = await call(b, 'POST', '/v1/chat/completions', chat(), key);
    assert.equal(other.status, 429, other.text);
    ctl.abort();
    await reader.read().catch(() => {});
  });

  test('Redis down: fail-closed answers 503, never a hang', async () => {
    const key = createKey(db, 'during-outage', ['--rpm', '100']);
    await sleep(1200);
    await redis.stop();
    const t0 = Date.now();
    const r = await call(a, 'POST', '/v1/chat/completions', chat(), key);
    assert.equal(r.status, 503, r.text);
    assert.ok(r.headers.get('retry-after'));
    assert.ok(Date.now() - t0 < 5000, 'answered promptly');
  });
});

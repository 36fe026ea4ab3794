// Routing to upstream OpenAI-compatible servers: a front citadel with `--upstream big=A,B`
// in front of two upstream citadel processes serving the tiny model. Load is balanced over
// both (counted in each upstream's audit log); killing one mid-stream ends that client's stream
// with an SSE error event and [DONE] while new requests go to the survivor; the restarted
// upstream gets traffic again after a health check; canary weights 80/20 hold within 4 sigma;
// the gateway (roles, limits) applies to routed models as to local ones; Ollama clients get Ollama's shapes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import nodeHttp from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { http, sleep, startServer, tempDataDir, tinyModel, expectCleanExit } from './lib/harness.mjs';
import { call, createKey } from './lib/gateway.mjs';

const chat = (max_tokens = 2, extra = {}) => ({
  model: 'big', messages: [{ role: 'user', content: 'hi' }], max_tokens, ...extra,
});

function upstreamArgs(dir, port = 0) {
  return ['-m', `big=${tinyModel()}`, '--port', String(port), '--host', '127.0.0.1', '--kv-mem', '64MiB',
    '-c', '1024', '-t', '1', '--no-auth', '--data-dir', dir];
}

async function startUpstream(port = 0, dir = tempDataDir()) {
  const s = await startServer({ args: upstreamArgs(dir, port) });
  s.dir = dir;
  return s;
}

// Chat requests an upstream has answered, from its audit log (complete lines only).
function servedChats(upstream) {
  const file = path.join(upstream.dir, 'audit.jsonl');
  if (!fs.existsSync(file)) return 0;
  const text = fs.readFileSync(file, 'utf8');
  return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean)
    .map((l) => JSON.parse(l)).filter((r) => r.route === 'POST /v1/chat/completions').length;
}

async function waitFor(predicate, what, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

// A streamed chat: resolves once the first content chunk arrived, with `rest`, a promise of
// the whole stream's text and when it ended.
async function openStream(front, body) {
  const r = await fetch(`${front.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /text\/event-stream/);
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!text.includes('"content"')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  const rest = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { text, endedAt: Date.now() };
      text += decoder.decode(value, { stream: true });
    }
  })();
  return { rest };
}

describe('routing: two upstream citadels behind a front', () => {
  let a, b, front;
  before(async () => {
    [a, b] = await Promise.all([startUpstream(), startUpstream()]);
    front = await startServer({
      args: ['--upstream', `big=${a.url},${b.url}/v1`, '--upstream-health-interval', '300ms',
        '--port', '0', '--host', '127.0.0.1', '--no-auth', '--data-dir', tempDataDir()],
    });
  });
  after(async () => {
    if (front) await expectCleanExit(front);
    for (const s of [a, b]) if (s?.alive) await expectCleanExit(s);
  });

  test('answers, lists the model, and balances load over both upstreams', async () => {
    const models = await http(front, 'GET', '/v1/models');
    assert.deepEqual(models.json.data.map((m) => m.id), ['big']);
    const one = await http(front, 'POST', '/v1/chat/completions', chat(3), { headers: { 'x-request-id': 'route-1' } });
    assert.equal(one.status, 200, one.text);
    assert.equal(one.json.model, 'big');
    assert.equal(one.json.object, 'chat.completion');
    assert.equal(one.headers.get('x-request-id'), 'route-1');
    await waitFor(() => servedChats(a) + servedChats(b) === 1, 'the first request in an audit log');
    const before = [servedChats(a), servedChats(b)];
    for (let batch = 0; batch < 5; ++batch) {
      const rs = await Promise.all([0, 1, 2, 3].map(() =>
        http(front, 'POST', '/v1/chat/completions', chat(16, { ignore_eos: true }))));
      for (const r of rs) assert.equal(r.status, 200, r.text);
    }
    await waitFor(() => servedChats(a) + servedChats(b) - before[0] - before[1] === 20, 'the audit logs');
    const [na, nb] = [servedChats(a) - before[0], servedChats(b) - before[1]];
    // Least outstanding requests: concurrent requests spread over both.
    assert.ok(na >= 6 && nb >= 6, `upstream A served ${na}, B ${nb}`);
  });

  test('streams chunk by chunk, with usage when asked', async () => {
    const r = await http(front, 'POST', '/v1/chat/completions',
      chat(5, { stream: true, ignore_eos: true, stream_options: { include_usage: true } }));
    assert.equal(r.status, 200, r.text);
    const events = r.text.split('\n\n').filter(Boolean);
    assert.equal(events.at(-1), 'data: [DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)));
    assert.ok(chunks.length >= 5, r.text);
    for (const c of chunks) assert.equal(c.model, 'big');
    assert.equal(chunks.at(-1).usage.completion_tokens, 5);
    // Without include_usage the usage chunk (asked for upstream) is not passed on.
    const plain = await http(front, 'POST', '/v1/chat/completions', chat(3, { stream: true }));
    assert.ok(!plain.text.includes('"usage"'), plain.text);
  });

  test('Ollama clients get the upstream\'s refusals in Ollama\'s error shape', async () => {
    const r = await http(front, 'POST', '/api/chat',
      { model: 'big', messages: [{ role: 'user', content: 'hi' }], options: { num_predict: 5000 } });
    assert.equal(r.status, 400, r.text);
    assert.equal(typeof r.json.error, 'string');
    assert.match(r.json.error, /maximum context length is 1024/);
  });

  test('an upstream killed mid-stream: a clean error for its client, the survivor takes over, the restarted one gets traffic again', async () => {
    const body = chat(900, { stream: true, ignore_eos: true });
    // Two concurrent streams: least outstanding puts one on each upstream.
    const s1 = await openStream(front, body);
    const s2 = await openStream(front, body);
    const port = a.port;
    a.proc.kill('SIGKILL');
    await a.exited;
    const killedAt = Date.now();
    const ends = await Promise.race([
      Promise.all([s1.rest, s2.rest]),
      sleep(30000).then(() => { throw new Error('a stream hung after its upstream was killed'); }),
    ]);
    const cut = ends.filter((e) => e.text.includes('"error"'));
    assert.equal(cut.length, 1, ends.map((e) => e.text.slice(-300)).join('\n---\n'));
    assert.ok(cut[0].endedAt - killedAt < 3000, `the cut stream ended ${cut[0].endedAt - killedAt} ms after the kill`);
    const events = cut[0].text.split('\n\n').filter(Boolean);
    assert.equal(events.at(-1), 'data: [DONE]');
    const err = JSON.parse(events.at(-2).slice(6));
    assert.equal(err.error.code, 'upstream_error');
    for (const e of events.slice(0, -2)) JSON.parse(e.slice(6)); // no truncated chunk before it
    const whole = ends.find((e) => !e.text.includes('"error"'));
    assert.ok(whole.text.endsWith('data: [DONE]\n\n'));

    // New requests succeed on the survivor (the dead one is retried around, then ejected).
    await sleep(300); // the finished stream's audit line
    const survivorBefore = servedChats(b);
    for (let i = 0; i < 6; ++i) {
      const r = await http(front, 'POST', '/v1/chat/completions', chat(2));
      assert.equal(r.status, 200, r.text);
    }
    await waitFor(() => servedChats(b) - survivorBefore >= 6, 'the survivor to serve all 6');

    // Back on the same port: a health check brings it back into the pool.
    a = await startUpstream(port);
    await sleep(1000); // a few health-check intervals
    const aBefore = servedChats(a);
    for (let batch = 0; batch < 3; ++batch) {
      const rs = await Promise.all([0, 1].map(() => http(front, 'POST', '/v1/chat/completions', chat(16, { ignore_eos: true }))));
      for (const r of rs) assert.equal(r.status, 200, r.text);
    }
    await waitFor(() => servedChats(a) - aBefore >= 2, 'the restarted upstream to get traffic');
  });
});

describe('routing: canary weights and the gateway on routed models', () => {
  let a, b, front, dir, db;
  before(async () => {
    [a, b] = await Promise.all([startUpstream(), startUpstream()]);
    dir = tempDataDir();
    db = path.join(dir, 'keys.db');
    createKey(db, 'bootstrap', ['--role', 'admin']);
    const config = path.join(dir, 'citadel.yaml');
    fs.writeFileSync(config, [
      'models:',
      `  v1: {upstreams: [${a.url}], upstream-model: big}`,
      `  v2: {upstreams: [${b.url}], upstream-model: big}`,
      '  canary:',
      '    routes:',
      '      - {model: v1, weight: 80}',
      '      - {model: v2, weight: 20}',
      '',
    ].join('\n'));
    front = await startServer({
      args: ['--config', config, '--port', '0', '--host', '127.0.0.1', '--data-dir', dir],
    });
  });
  after(async () => {
    if (front) await expectCleanExit(front);
    for (const s of [a, b]) if (s) await expectCleanExit(s);
  });

  test('80/20 over 200 requests lands within 4 sigma', async () => {
    const key = createKey(db, 'canary-user', ['--role', 'user']);
    await sleep(1100);
    const listed = await call(front, 'GET', '/v1/models', undefined, key);
    assert.deepEqual(listed.json.data.map((m) => m.id).sort(), ['canary', 'v1', 'v2']);
    const counts = { v1: 0, v2: 0 };
    for (let batch = 0; batch < 25; ++batch) {
      const rs = await Promise.all(Array.from({ length: 8 }, () =>
        call(front, 'POST', '/v1/chat/completions', { ...chat(1), model: 'canary' }, key)));
      for (const r of rs) {
        assert.equal(r.status, 200, r.text);
        counts[r.json.model] += 1;
      }
    }
    assert.equal(counts.v1 + counts.v2, 200, JSON.stringify(counts));
    const sigma = Math.sqrt(200 * 0.2 * 0.8); // about 5.7
    assert.ok(Math.abs(counts.v2 - 40) <= 4 * sigma, JSON.stringify(counts));
  });

  test('a viewer key gets 403 and a limited key 429 on routed models', async () => {
    const viewer = createKey(db, 'viewer', ['--role', 'viewer']);
    const limited = createKey(db, 'one-per-minute', ['--role', 'user', '--rpm', '1']);
    const other = createKey(db, 'only-v1', ['--role', 'user', '--models', 'v1']);
    await sleep(1100);
    const denied = await call(front, 'POST', '/v1/chat/completions', { ...chat(1), model: 'v2' }, viewer);
    assert.equal(denied.status, 403, denied.text);
    assert.equal((await call(front, 'POST', '/v1/chat/completions', { ...chat(1), model: 'v2' }, limited)).status, 200);
    const second = await call(front, 'POST', '/v1/chat/completions', { ...chat(1), model: 'v2' }, limited);
    assert.equal(second.status, 429, second.text);
    assert.ok(Number(second.headers.get('retry-after')) >= 1);
    const wrongModel = await call(front, 'POST', '/v1/chat/completions', { ...chat(1), model: 'v2' }, other);
    assert.equal(wrongModel.status, 403, wrongModel.text);
    assert.equal((await call(front, 'POST', '/v1/chat/completions', { ...chat(1), model: 'v1' }, other)).status, 200);
    assert.equal((await call(front, 'POST', '/v1/chat/completions', chat(1), undefined)).status, 401);
  });
});

// A fake OpenAI-compatible upstream (node:http): answers by `behaviour`, records what it got.
function fakeUpstream(behaviour) {
  const seen = [];
  const server = nodeHttp.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (req.url === '/health') return res.end('{"status":"ok"}');
      seen.push({ url: req.url, headers: req.headers, body: JSON.parse(body) });
      behaviour(JSON.parse(body), res);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    resolve({ server, seen, url: `http://127.0.0.1:${server.address().port}` });
  }));
}

const chunk = (content, finish = null) => `data: ${JSON.stringify({
  id: 'c1', object: 'chat.completion.chunk', model: 'up', choices: [{ index: 0, delta: { content }, finish_reason: finish }],
})}\n\n`;

function piiReply(body, res) {
  if (!body.stream) {
    res.setHeader('content-type', 'application/json');
    return res.end(JSON.stringify({
      id: 'c1', object: 'chat.completion', model: 'up',
      choices: [{ index: 0, message: { role: 'assistant', content: 'mail ops@example.com now' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 7, completion_tokens: 4, total_tokens: 11 },
    }));
  }
  res.setHeader('content-type', 'text/event-stream');
  res.write(chunk('mail ops@exa'));
  setTimeout(() => {
    res.write(chunk('mple.com now', 'stop'));
    res.write(`data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', model: 'up', choices: [], usage: { prompt_tokens: 7, completion_tokens: 4 } })}\n\n`);
    res.end('data: [DONE]\n\n');
  }, 50);
}

describe('routing: a fake upstream (redaction, retries, relayed errors)', () => {
  let good, broken, front;
  before(async () => {
    good = await fakeUpstream((body, res) => (body.messages[0].content === 'bad request'
      ? (res.statusCode = 422, res.end('{"error":{"message":"nope"}}')) : piiReply(body, res)));
    broken = await fakeUpstream((body, res) => { res.statusCode = 500; res.end('{}'); });
    const dir = tempDataDir();
    const config = path.join(dir, 'citadel.yaml');
    fs.writeFileSync(config, `models:\n  m: {upstreams: [${broken.url}, ${good.url}], upstream-model: the-upstream-name}\n`);
    front = await startServer({
      args: ['--config', config, '--pii-input', 'redact', '--pii-output', 'redact',
        '--port', '0', '--host', '127.0.0.1', '--no-auth', '--data-dir', dir],
    });
  });
  after(async () => {
    if (front) await expectCleanExit(front);
    good?.server.close();
    broken?.server.close();
  });

  const ask = (content, extra = {}) => ({ model: 'm', messages: [{ role: 'user', content }], ...extra });

  test('forwards the redacted body with the upstream model name and trace headers', async () => {
    const r = await http(front, 'POST', '/v1/chat/completions', ask('I am bob@example.org'), { headers: { 'x-request-id': 'fake-1' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, 'mail [EMAIL] now');
    assert.equal(r.json.model, 'm');
    const got = good.seen.at(-1);
    assert.equal(got.url, '/v1/chat/completions');
    assert.equal(got.body.model, 'the-upstream-name');
    assert.equal(got.body.messages[0].content, 'I am [EMAIL]');
    assert.equal(got.headers['x-request-id'], 'fake-1');
    assert.match(got.headers.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assert.equal(got.headers.authorization, undefined);
  });

  test('streams with output redaction across chunks', async () => {
    const r = await http(front, 'POST', '/v1/chat/completions', ask('hi', { stream: true }));
    assert.equal(r.status, 200, r.text);
    const events = r.text.split('\n\n').filter(Boolean);
    assert.equal(events.at(-1), 'data: [DONE]');
    const text = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)).choices[0]?.delta?.content ?? '').join('');
    assert.equal(text, 'mail [EMAIL] now');
    assert.ok(!r.text.includes('"usage"'));
    assert.equal(good.seen.at(-1).body.stream_options.include_usage, true);
  });

  test('requests that meet the failing endpoint are retried on the other', async () => {
    for (let i = 0; i < 12; ++i) {
      const r = await http(front, 'POST', '/v1/chat/completions', ask('hi'));
      assert.equal(r.status, 200, r.text);
    }
    // Ties are broken at random: the odds that no request picked it first are 2^-12.
    assert.ok(broken.seen.length >= 1, 'the failing endpoint was never tried');
  });

  test('a 4xx from the upstream is passed on as it is', async () => {
    const r = await http(front, 'POST', '/v1/chat/completions', ask('bad request'));
    assert.equal(r.status, 422, r.text);
    assert.equal(r.json.error.message, 'nope');
  });
});

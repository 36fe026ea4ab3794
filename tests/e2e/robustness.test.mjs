// Hostile and broken input over raw sockets and fetch: the server answers 4xx (never 500),
// closes what it must, never hangs, and GET /health answers 200 after every case.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { healthStatus, http, parseRawResponse, rawExchange, sleep, startServer, expectCleanExit } from './lib/harness.mjs';

let server;

before(async () => {
  server = await startServer({ extra: ['--body-timeout', '1s', '--header-timeout', '3s'] });
});

afterEach(async () => {
  assert.ok(server.alive, `the server died:\n${server.tail()}`);
  assert.equal(await healthStatus(server), 200);
});

after(() => expectCleanExit(server));

function post(path, body, extraHeaders = '') {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const head = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${b.length}\r\nConnection: close\r\n${extraHeaders}\r\n`;
  return Buffer.concat([Buffer.from(head), b]);
}

async function rawPost(path, body, opts) {
  const r = await rawExchange(server.port, post(path, body), opts);
  return { ...r, res: parseRawResponse(r.data) };
}

function expect4xx(r, status = 400) {
  const ctx = `${r.data.toString('utf8').slice(0, 600)} (error ${r.error})`;
  assert.ok(r.res, `no HTTP response: ${ctx}`);
  assert.equal(r.res.status, status, ctx);
  assert.ok(r.res.json?.error, `no error body: ${ctx}`);
}

describe('bad JSON bodies', () => {
  test('truncated JSON -> 400', async () => {
    for (const body of ['{"model":"tiny","messages":[{"role":"user","content":"hi"}', '{"model":', '{', '"', '{"model":"tiny","messages":[{"role":"user","content":"\\u12']) {
      expect4xx(await rawPost('/v1/chat/completions', body));
    }
  });

  test('wrong types -> 400 naming the field', async () => {
    const a = await rawPost('/v1/chat/completions', JSON.stringify({ model: 'tiny', messages: 5 }));
    expect4xx(a);
    assert.equal(a.res.json.error.param, 'messages');
    const b = await rawPost('/v1/chat/completions', JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], temperature: 'hot' }));
    expect4xx(b);
    assert.equal(b.res.json.error.param, 'temperature');
    const c = await rawPost('/v1/completions', JSON.stringify({ model: 'tiny', prompt: { a: 1 } }));
    expect4xx(c);
    const d = await rawPost('/api/chat', JSON.stringify({ model: 'tiny', messages: 'x' }));
    assert.equal(d.res?.status, 400, d.data.toString());
    assert.equal(typeof d.res.json?.error, 'string', 'Ollama error shape');
  });

  test('huge numbers -> 400, not 500', async () => {
    const msgs = '[{"role":"user","content":"hi"}]';
    for (const raw of ['1e300', '99999999999999999999', '-1e300', '18446744073709551616', '9223372036854775808', '-9223372036854775809']) {
      const r = await rawPost('/v1/chat/completions', `{"model":"tiny","messages":${msgs},"max_tokens":${raw}}`);
      expect4xx(r);
      assert.equal(r.res.json.error.param, 'max_tokens', `max_tokens ${raw}: ${r.res.body}`);
    }
    // Beyond a double: the JSON itself is unreadable; 400 is all that can be asked.
    expect4xx(await rawPost('/v1/chat/completions', `{"model":"tiny","messages":${msgs},"max_tokens":1.8e309}`));
    for (const [field, raw] of [['n', '99999999999999999999'], ['seed', '1e300'], ['temperature', '1e300'], ['top_k', '99999999999999999999'], ['logprobs', '1e300']]) {
      const r = await rawPost('/v1/chat/completions', `{"model":"tiny","messages":${msgs},"max_tokens":2,"${field}":${raw}}`);
      assert.ok(r.res && r.res.status < 500, `${field}=${raw}: ${r.data.toString().slice(0, 300)}`);
      if (r.res.status !== 200) assert.equal(r.res.json?.error?.param, field, `${field}=${raw}: ${r.res.body}`);
    }
  });

  test('deeply nested JSON (10k [) -> 400', async () => {
    expect4xx(await rawPost('/v1/chat/completions', '['.repeat(10000)));
    expect4xx(await rawPost('/v1/chat/completions', '['.repeat(10000) + ']'.repeat(10000)));
    expect4xx(await rawPost('/v1/chat/completions', `{"model":"tiny","messages":${'['.repeat(10000)}${']'.repeat(10000)}}`));
    expect4xx(await rawPost('/v1/chat/completions', `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"x":${'{"a":'.repeat(10000)}1${'}'.repeat(10000)}}`));
  });

  test('invalid UTF-8 bytes inside a JSON string -> 400', async () => {
    const body = Buffer.concat([
      Buffer.from('{"model":"tiny","max_tokens":2,"messages":[{"role":"user","content":"ab'),
      Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]),
      Buffer.from('"}]}'),
    ]);
    const r = await rawPost('/v1/chat/completions', body);
    expect4xx(r);
    const t = await rawPost('/tokenize', Buffer.concat([Buffer.from('{"model":"tiny","prompt":"'), Buffer.from([0xc0, 0xaf, 0x80]), Buffer.from('"}')]));
    expect4xx(t);
  });

  test('lone surrogate escapes and NUL characters do not crash', async () => {
    const r = await rawPost('/v1/chat/completions', '{"model":"tiny","max_tokens":2,"messages":[{"role":"user","content":"a\\ud800b\\u0000c"}]}');
    assert.ok(r.res && r.res.status < 500, r.data.toString().slice(0, 300));
  });
});

describe('hostile transfers', () => {
  test('a 10 MB body -> 413 and the connection closed, not a hang', async () => {
    // Announced size only: the server must answer from the head.
    const head = 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10485760\r\n\r\n';
    const a = await rawExchange(server.port, [head, '{"model":'], { timeoutMs: 8000, delayMs: 50 });
    assert.equal(a.status, 413, `got ${JSON.stringify(a.data.toString().slice(0, 300))} error ${a.error}`);
    assert.ok(a.closed, `connection still open after ${a.ms} ms`);
    // The whole body sent: the connection must end within seconds.
    const big = Buffer.alloc(10 * 1024 * 1024, 0x61);
    const body = Buffer.concat([Buffer.from('{"model":"tiny","messages":[{"role":"user","content":"'), big, Buffer.from('"}]}')]);
    const b = await rawExchange(server.port, post('/v1/chat/completions', body), { timeoutMs: 10000 });
    assert.ok(b.closed, `no close after ${b.ms} ms`);
    assert.ok(b.status === 413 || (b.status === null && b.error), `status ${b.status}, error ${b.error}: ${b.data.toString().slice(0, 200)}`);
    // And through fetch.
    try {
      const f = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(10000) });
      assert.equal(f.status, 413);
      await f.arrayBuffer();
    } catch (e) {
      assert.notEqual(e.name, 'TimeoutError', 'fetch of a 10 MB body hung');
    }
  });

  test('a slow-drip body (a byte every 200 ms, --body-timeout 1s) -> 408 or close within seconds', async () => {
    const head = 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n';
    const drip = [head, ...'{"model":"tiny","messages":[{"role":"user","content":"slow slow slow slow slow'.split('')];
    const r = await rawExchange(server.port, drip, { timeoutMs: 8000, delayMs: 200 });
    assert.ok(r.closed, `still open after ${r.ms} ms`);
    assert.ok(r.ms < 5000, `took ${r.ms} ms`);
    assert.ok(r.status === null || r.status === 408, `status ${r.status}: ${r.data.toString().slice(0, 300)}`);
  });

  test('a slow-drip request head -> 408 or close (--header-timeout 3s)', async () => {
    const r = await rawExchange(server.port, 'GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'.split(''), { timeoutMs: 12000, delayMs: 150 });
    assert.ok(r.closed, `still open after ${r.ms} ms`);
    assert.ok(r.ms < 7000, `took ${r.ms} ms`);
    assert.ok(r.status === null || r.status === 408, `status ${r.status}`);
  });

  test('half a request then half-close (socket.end) -> the connection is closed', async () => {
    const half = 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":"ti';
    const r = await rawExchange(server.port, half, { timeoutMs: 6000, end: true });
    assert.ok(r.closed, `still open after ${r.ms} ms`);
    assert.ok(r.status === null || (r.status >= 400 && r.status < 500), `status ${r.status}`);
    const h = await rawExchange(server.port, 'GET /heal', { timeoutMs: 6000, end: true });
    assert.ok(h.closed, `head cut: still open after ${h.ms} ms`);
  });

  test('a complete request then half-close still gets its answer', async () => {
    const r = await rawExchange(server.port, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 5000, end: true });
    assert.equal(r.status, 200, r.data.toString());
  });

  test('garbage bytes instead of HTTP -> 400 or close', async () => {
    const garbage = [
      Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256)),
      Buffer.from('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03'), // a TLS ClientHello start
      'HELLO WORLD\r\n\r\n',
      'GET / HTTP/9.9\r\n\r\n',
      'GET /health HTTP/1.1\r\nContent-Length: -5\r\n\r\n',
      'POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
      'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello',
      `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`,
      '\r\n\r\n\r\n\r\n',
    ];
    for (const g of garbage) {
      const r = await rawExchange(server.port, g, { timeoutMs: 5000 });
      const what = JSON.stringify(Buffer.from(g).toString('latin1').slice(0, 60));
      assert.ok(r.closed, `${what}: still open after ${r.ms} ms`);
      assert.ok(r.status === null || (r.status >= 400 && r.status < 500), `${what}: status ${r.status} ${r.data.toString().slice(0, 200)}`);
    }
  });

  test('a chunked request body is understood', async () => {
    const body = JSON.stringify({ model: 'tiny', prompt: 'hi', max_tokens: 2 });
    const a = body.slice(0, 10);
    const b = body.slice(10);
    const req = `POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${a.length.toString(16)}\r\n${a}\r\n${b.length.toString(16)}\r\n${b}\r\n0\r\n\r\n`;
    const r = await rawExchange(server.port, req, { timeoutMs: 10000 });
    assert.ok(r.status === 200 || r.status === 411 || r.status === 501, `status ${r.status}: ${r.data.toString().slice(0, 300)}`);
  });

  test('100 connections that send nothing do not block the server', async () => {
    const socks = await Promise.all(Array.from({ length: 100 }, () => new Promise((resolve) => {
      const s = net.connect(server.port, '127.0.0.1');
      s.on('error', () => {});
      s.on('connect', () => resolve(s));
    })));
    try {
      await sleep(300);
      assert.equal(await healthStatus(server), 200);
      const r = await http(server, 'POST', '/v1/completions', { model: 'tiny', prompt: 'hi', max_tokens: 2 });
      assert.equal(r.status, 200, r.text);
    } finally {
      for (const s of socks) s.destroy();
    }
  });

  test('pipelined requests on one connection are all answered in order', async () => {
    const one = 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n';
    const r = await rawExchange(server.port, one + one + one.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n'), { timeoutMs: 5000 });
    const n = (r.data.toString().match(/HTTP\/1\.1 200/g) ?? []).length;
    assert.equal(n, 3, r.data.toString());
  });

  test('many concurrent bad requests -> no 5xx', async () => {
    const bodies = ['{', '{"model":5}', '{"model":"tiny","messages":[]}', '[]', 'null', '{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":-7}'];
    const rs = await Promise.all(Array.from({ length: 60 }, (_, i) => http(server, 'POST', i % 2 ? '/v1/chat/completions' : '/v1/completions', bodies[i % bodies.length])));
    for (const r of rs) assert.ok(r.status >= 400 && r.status < 500, `${r.status} ${r.text}`);
  });
});

describe('connection limits', () => {
  let small;
  before(async () => {
    small = await startServer({ extra: ['--max-connections', '8', '--idle-timeout', '1s', '--max-header', '4KiB'] });
  });
  after(async () => {
    const { code } = await small.stop();
    assert.equal(code, 0, small.tail());
  });

  test('a request head over --max-header -> 431', async () => {
    const r = await rawExchange(small.port, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(8 * 1024)}\r\n\r\n`, { timeoutMs: 5000 });
    assert.equal(r.status, 431, r.data.toString().slice(0, 300));
    assert.equal(await healthStatus(small), 200);
  });

  test('beyond --max-connections: 503 or refused, and service resumes', async () => {
    const socks = await Promise.all(Array.from({ length: 8 }, () => new Promise((resolve) => {
      const s = net.connect(small.port, '127.0.0.1');
      s.on('error', () => {});
      s.on('connect', () => resolve(s));
    })));
    try {
      await sleep(200);
      const r = await rawExchange(small.port, 'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { timeoutMs: 5000 });
      assert.ok(r.closed, 'the connection over the limit hangs');
      assert.ok(r.status === 503 || r.status === null, `status ${r.status}: ${r.data.toString().slice(0, 300)}`);
    } finally {
      for (const s of socks) s.destroy();
    }
    await sleep(200);
    assert.equal(await healthStatus(small), 200);
  });

  test('an idle keep-alive connection is closed after --idle-timeout (1s)', async () => {
    const r = await rawExchange(small.port, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 6000 });
    assert.equal(r.status, 200);
    assert.ok(r.closed, `still open after ${r.ms} ms`);
    assert.ok(r.ms >= 800 && r.ms < 4000, `closed after ${r.ms} ms`);
  });
});

// Request tracing: the client's W3C traceparent is continued, our span id comes back in the
// answer, and one server span per request reaches an OTLP/HTTP collector (a local server).
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { sleep, startServer, tempDataDir, tinyModel, expectCleanExit, http as request } from './lib/harness.mjs';

describe('tracing (OTLP/HTTP JSON)', () => {
  let collector, server;
  const spans = [];
  before(async () => {
    collector = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const j = JSON.parse(body);
        for (const rs of j.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) spans.push({ ...s, resource: rs.resource });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise((r) => collector.listen(0, '127.0.0.1', r));
    server = await startServer({ args: ['-m', `tiny=${tinyModel()}`, '--port', '0', '--kv-mem', '32MiB', '-t', '1', '--no-auth',
      '--data-dir', tempDataDir(), '--otlp-endpoint', `http://127.0.0.1:${collector.address().port}/v1/traces`] });
  });
  after(async () => {
    if (server) await expectCleanExit(server);
    collector?.close();
  });

  test('an incoming traceparent is continued and the span is exported', async () => {
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736', parent = '00f067aa0ba902b7';
    const r = await request(server, 'POST', '/v1/chat/completions', { model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 },
      { headers: { traceparent: `00-${trace}-${parent}-01` } });
    assert.equal(r.status, 200, r.text);
    const tp = r.headers.get('traceparent');
    assert.match(tp, new RegExp(`^00-${trace}-[0-9a-f]{16}-01$`));
    const spanId = tp.split('-')[2];
    const deadline = Date.now() + 5000;
    while (!spans.some((s) => s.spanId === spanId) && Date.now() < deadline) await sleep(50);
    const s = spans.find((x) => x.spanId === spanId);
    assert.ok(s, `no span ${spanId} among ${spans.length}`);
    assert.equal(s.traceId, trace);
    assert.equal(s.parentSpanId, parent);
    assert.equal(s.name, 'POST /v1/chat/completions');
    const attr = Object.fromEntries(s.attributes.map((a) => [a.key, a.value.stringValue ?? Number(a.value.intValue)]));
    assert.equal(attr['http.response.status_code'], 200);
    assert.equal(attr['gen_ai.request.model'], 'tiny');
    assert.ok(BigInt(s.endTimeUnixNano) > BigInt(s.startTimeUnixNano));
    assert.equal(s.resource.attributes[0].value.stringValue, 'citadel');
    // The engine's stages are child spans, in order, inside the request's span.
    const kids = ['engine.queue', 'engine.prefill', 'engine.decode'].map((n) => spans.find((x) => x.parentSpanId === spanId && x.name === n));
    assert.ok(kids.every(Boolean), JSON.stringify(spans.filter((x) => x.parentSpanId === spanId).map((x) => x.name)));
    for (const k of kids) {
      assert.equal(k.traceId, trace);
      assert.ok(BigInt(k.startTimeUnixNano) >= BigInt(s.startTimeUnixNano) && BigInt(k.endTimeUnixNano) <= BigInt(s.endTimeUnixNano));
    }
  });

  test('without a traceparent a new trace starts; a bad one is ignored', async () => {
    const a = await request(server, 'GET', '/v1/models');
    const b = await request(server, 'GET', '/v1/models', undefined, { headers: { traceparent: 'garbage' } });
    const ta = a.headers.get('traceparent').split('-')[1], tb = b.headers.get('traceparent').split('-')[1];
    assert.match(ta, /^[0-9a-f]{32}$/);
    assert.notEqual(ta, tb);
  });
});

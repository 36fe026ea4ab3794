// Upstreams over HTTPS with their own API key, upstream state in /ready and /metrics, and the
// per-model settings of the config file: aliases, sampling defaults and engine options.
//   - an upstream citadel with TLS (test CA) and auth on; the front trusts the CA through
//     --upstream-ca and sends the upstream's key from `api-key-env`, never the client's;
//   - a front that does not trust the CA fails the request cleanly (502 naming TLS);
//   - an alias answers as its model, sampling defaults apply when the request leaves them out
//     (OpenAI and Ollama routes) and lose when it sets them; ctx shows as max_model_len.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { http, startServer, tempDataDir, tinyModel, expectCleanExit } from './lib/harness.mjs';
import { createKey, makeCerts, promtoolProblems } from './lib/gateway.mjs';

const chat = (model, extra = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });

describe('routing: an https upstream with an API key', () => {
  let upstream, front, untrusting, upstreamKey;
  before(async () => {
    const dir = tempDataDir();
    const certs = makeCerts(dir);
    upstreamKey = createKey(path.join(dir, 'keys.db'), 'front', ['--role', 'user']);
    const ca = fs.readFileSync(certs.ca);
    upstream = await startServer({
      args: ['-m', `tiny=${tinyModel()}`, '--port', '0', '--host', '127.0.0.1', '--kv-mem', '64MiB', '-t', '1',
        '--data-dir', dir, '--tls-cert', certs.cert, '--tls-key', certs.key],
      readyFetch: (url) => new Promise((resolve, reject) => {
        https.get(url, { ca, agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode, arrayBuffer: async () => {} }));
        }).on('error', reject);
      }),
    });
    assert.equal(upstream.scheme, 'https');
    const cfg = path.join(tempDataDir(), 'citadel.yaml');
    fs.writeFileSync(cfg, [
      'models:',
      '  secure:',
      `    upstreams: [${upstream.url}]`,
      '    upstream-model: tiny',
      '    api-key-env: CITADEL_TEST_UPSTREAM_KEY',
      '    aliases: [gpt-4o-mini]',
      '',
    ].join('\n'));
    process.env.CITADEL_TEST_UPSTREAM_KEY = upstreamKey;
    front = await startServer({
      args: ['--config', cfg, '--upstream-ca', certs.ca, '--upstream-health-interval', '200ms',
        '--port', '0', '--host', '127.0.0.1', '--no-auth', '--public-metrics', '--data-dir', tempDataDir()],
    });
    untrusting = await startServer({
      args: ['--config', cfg, '--port', '0', '--host', '127.0.0.1', '--no-auth', '--data-dir', tempDataDir()],
    });
    delete process.env.CITADEL_TEST_UPSTREAM_KEY;
  });
  after(async () => {
    for (const s of [front, untrusting, upstream]) if (s) await expectCleanExit(s);
  });

  test('requests reach the https upstream with its key, streamed and whole', async () => {
    const r = await http(front, 'POST', '/v1/chat/completions', chat('secure', { max_tokens: 3 }),
      { headers: { authorization: 'Bearer client-secret-not-for-upstreams' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.model, 'secure');
    assert.ok(r.json.usage.completion_tokens >= 1);
    const s = await http(front, 'POST', '/v1/chat/completions', chat('secure', { max_tokens: 3, stream: true }));
    assert.equal(s.status, 200, s.text);
    assert.match(s.text, /data: \[DONE\]/);
    assert.doesNotMatch(s.text, /"error"/);
  });

  test('an alias of an upstream model answers as the model', async () => {
    const r = await http(front, 'POST', '/v1/chat/completions', chat('gpt-4o-mini', { max_tokens: 2 }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.model, 'secure');
  });

  test('Ollama clients reach an upstream model: /api/chat and /api/generate, whole and streamed', async () => {
    const whole = await http(front, 'POST', '/api/chat',
      { model: 'secure', messages: [{ role: 'user', content: 'hi' }], stream: false, options: { num_predict: 3 } });
    assert.equal(whole.status, 200, whole.text);
    assert.equal(whole.json.model, 'secure');
    assert.equal(whole.json.done, true);
    assert.equal(whole.json.message.role, 'assistant');
    assert.equal(typeof whole.json.message.content, 'string');
    assert.ok(whole.json.eval_count >= 1 && whole.json.eval_count <= 3, whole.text);
    assert.ok(whole.json.prompt_eval_count > 0);

    const streamed = await http(front, 'POST', '/api/generate', { model: 'secure', prompt: 'Once', options: { num_predict: 4 } });
    assert.equal(streamed.status, 200, streamed.text);
    const lines = streamed.text.trim().split('\n').map((l) => JSON.parse(l));
    const last = lines.at(-1);
    assert.equal(last.done, true);
    assert.ok(['stop', 'length'].includes(last.done_reason));
    assert.ok(last.eval_count >= 1 && last.eval_count <= 4);
    for (const l of lines.slice(0, -1)) {
      assert.equal(l.done, false);
      assert.equal(typeof l.response, 'string');
    }
    assert.equal(lines.slice(0, -1).map((l) => l.response).join('').length > 0, true);

    const raw = await http(front, 'POST', '/api/generate', { model: 'secure', prompt: 'Once', raw: true, stream: false, options: { num_predict: 2 } });
    assert.equal(raw.status, 200, raw.text);
    assert.equal(typeof raw.json.response, 'string');
  });

  test('/ready and /metrics report the upstream endpoint', async () => {
    const ready = await http(front, 'GET', '/ready');
    assert.equal(ready.status, 200);
    const st = ready.json.upstreams.secure;
    assert.equal(st.available, 1);
    assert.equal(st.circuit_open, false);
    assert.equal(st.endpoints[0].url, upstream.url);
    assert.equal(st.endpoints[0].healthy, true);
    const m = (await http(front, 'GET', '/metrics')).text;
    const up = new RegExp(`^citadel:upstream_endpoint_up\\{model_name="secure",endpoint="${upstream.url}"\\} 1$`, 'm');
    assert.match(m, up);
    assert.match(m, /^citadel:upstream_requests_total\{model_name="secure",endpoint="[^"]+"\} [1-9]/m);
    assert.match(m, /^citadel:upstream_circuit_open\{model_name="secure"\} 0$/m);
    assert.deepEqual(promtoolProblems(m), []);
  });

  test('without the CA the certificate is refused, and the error says so', async () => {
    // 502 when the request finds it out, 503 once a health check has: both name the cause.
    const r = await http(untrusting, 'POST', '/v1/chat/completions', chat('secure', { max_tokens: 2 }));
    assert.ok([502, 503].includes(r.status), r.text);
    assert.match(r.json.error.message, /TLS handshake failed: certificate verify failed/);
    const ready = await http(untrusting, 'GET', '/ready');
    assert.equal(ready.status, 200, 'an unreachable upstream does not make the server unready');
    assert.match(ready.json.upstreams.secure.endpoints[0].error ?? '', /TLS handshake failed/);
  });
});

describe('models: aliases, sampling defaults and engine options per model', () => {
  let server;
  before(async () => {
    const cfg = path.join(tempDataDir(), 'citadel.yaml');
    fs.writeFileSync(cfg, [
      'models:',
      '  tiny:',
      `    path: ${tinyModel()}`,
      '    ctx: 256',
      '    kv-mem: 16MiB',
      '    aliases: [small, gpt-3.5-turbo]',
      '    sampling: {max_tokens: 2, temperature: 0}',
      '',
    ].join('\n'));
    server = await startServer({
      args: ['--config', cfg, '--port', '0', '--host', '127.0.0.1', '-t', '1', '--no-auth', '--data-dir', tempDataDir()],
    });
  });
  after(async () => {
    if (server) await expectCleanExit(server);
  });

  test('ctx from the config is the model\'s context', async () => {
    const r = await http(server, 'GET', '/v1/models/tiny');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.max_model_len, 256);
    const viaAlias = await http(server, 'GET', '/v1/models/small');
    assert.equal(viaAlias.json.id, 'tiny');
  });

  test('a default applies when the request leaves it out, and loses when it does not', async () => {
    const d = await http(server, 'POST', '/v1/chat/completions', chat('small', { ignore_eos: true }));
    assert.equal(d.status, 200, d.text);
    assert.equal(d.json.model, 'tiny');
    assert.equal(d.json.usage.completion_tokens, 2);
    const own = await http(server, 'POST', '/v1/chat/completions', chat('gpt-3.5-turbo', { max_tokens: 5, ignore_eos: true }));
    assert.equal(own.json.usage.completion_tokens, 5);
    const c = await http(server, 'POST', '/v1/completions', { model: 'tiny', prompt: 'Once', ignore_eos: true });
    assert.equal(c.json.usage.completion_tokens, 2);
  });

  test('Ollama routes get the defaults under their names (num_predict)', async () => {
    const r = await http(server, 'POST', '/api/generate', { model: 'small', prompt: 'Once', stream: false });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.eval_count <= 2, `eval_count ${r.json.eval_count}`);
  });

  test('a request past the configured ctx is refused with the context error', async () => {
    const r = await http(server, 'POST', '/v1/completions', { model: 'tiny', prompt: 'x', max_tokens: 300 });
    assert.equal(r.status, 400);
    assert.match(r.json.error.message, /maximum context length is 256/);
  });
});

describe('models: bad per-model settings are named at start', () => {
  const bad = [
    ['    sampling: {temprature: 0.5}', /unknown sampling default 'temprature'/],
    ['    sampling: {temperature: 9}', /temperature/],
    ['    ctx: lots', /ctx must be a whole number/],
    ['    upstream-model: x', /upstream-model and api-key need upstreams/],
  ];
  for (const [line, message] of bad) {
    test(line.trim(), async () => {
      const cfg = path.join(tempDataDir(), 'citadel.yaml');
      fs.writeFileSync(cfg, `models:\n  tiny:\n    path: ${tinyModel()}\n${line}\n`);
      await assert.rejects(
        startServer({ args: ['--config', cfg, '--port', '0', '--no-auth', '--data-dir', tempDataDir()] }),
        message);
    });
  }
});

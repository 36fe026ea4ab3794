// The gateway's access matrix against a real server and a real SQLite key store: every route
// × every kind of credential gets the expected status, and no denied request ever reaches
// the engine (its token counters do not move). Also the admin API for keys and usage.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { STORIES, sleep, startServer, tempDataDir, tinyModel, expectCleanExit } from './lib/harness.mjs';
import { call, createKey, keysCli, metricSum, signJwt } from './lib/gateway.mjs';

const SECRET = 'a-test-secret-of-at-least-32-bytes-long!';

const chat = { model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 };
const ROUTES = [
  { name: 'GET /v1/models', method: 'GET', path: '/v1/models', need: 'viewer' },
  { name: 'GET /v1/models/tiny', method: 'GET', path: '/v1/models/tiny', need: 'viewer', model: true },
  { name: 'GET /api/tags', method: 'GET', path: '/api/tags', need: 'viewer' },
  { name: 'GET /metrics', method: 'GET', path: '/metrics', need: 'viewer' },
  { name: 'POST /v1/chat/completions', method: 'POST', path: '/v1/chat/completions', body: chat, need: 'user', model: true },
  { name: 'POST /v1/completions', method: 'POST', path: '/v1/completions', body: { model: 'tiny', prompt: 'hi', max_tokens: 2 }, need: 'user', model: true },
  { name: 'POST /api/chat', method: 'POST', path: '/api/chat', body: { ...chat, stream: false, options: { num_predict: 2 } }, need: 'user', model: true },
  { name: 'POST /api/generate', method: 'POST', path: '/api/generate', body: { model: 'tiny', prompt: 'hi', stream: false, options: { num_predict: 2 } }, need: 'user', model: true },
  { name: 'POST /tokenize', method: 'POST', path: '/tokenize', body: { model: 'tiny', prompt: 'hi' }, need: 'user', model: true },
  { name: 'GET /admin/keys', method: 'GET', path: '/admin/keys', need: 'admin' },
  { name: 'GET /admin/usage', method: 'GET', path: '/admin/usage', need: 'admin' },
  { name: 'GET /health', method: 'GET', path: '/health', need: 'public' },
  { name: 'GET /ready', method: 'GET', path: '/ready', need: 'public' },
];
const RANK = { public: -1, viewer: 0, user: 1, admin: 2 };

describe('gateway: access matrix', () => {
  let server, dir, db, creds, adminKey;
  before(async () => {
    dir = tempDataDir();
    db = path.join(dir, 'keys.db');
    fs.writeFileSync(path.join(dir, 'jwt.secret'), SECRET);
    adminKey = createKey(db, 'root', ['--role', 'admin']);
    const revoked = createKey(db, 'gone', ['--role', 'user']);
    assert.equal(keysCli(db, ['revoke', 'gone']).status, 0);
    const expired = createKey(db, 'old', ['--role', 'user', '--expires', '1s']);
    creds = [
      { name: 'no credential', cred: null, role: null },
      { name: 'bad key', cred: 'ck_aaaaaaaaaaaa_' + 'x'.repeat(43), role: null },
      { name: 'garbage', cred: 'not-a-key', role: null },
      { name: 'revoked key', cred: revoked, role: null },
      { name: 'expired key', cred: expired, role: null },
      { name: 'viewer key', cred: createKey(db, 'watcher', ['--role', 'viewer']), role: 'viewer' },
      { name: 'user without the model', cred: createKey(db, 'other', ['--role', 'user', '--models', 'stories']), role: 'user', noModel: true },
      { name: 'user key', cred: createKey(db, 'svc-a', ['--role', 'user', '--models', 'ti*']), role: 'user' },
      { name: 'admin key', cred: adminKey, role: 'admin' },
      { name: 'valid JWT', cred: signJwt(SECRET, { sub: 'alice', iss: 'idp', aud: 'citadel', role: 'user' }), role: 'user' },
      { name: 'JWT, wrong audience', cred: signJwt(SECRET, { sub: 'alice', iss: 'idp', aud: 'other', role: 'user' }), role: null },
      { name: 'JWT, expired', cred: signJwt(SECRET, { sub: 'alice', iss: 'idp', aud: 'citadel', role: 'admin', exp: Math.floor(Date.now() / 1000) - 600 }), role: null },
      { name: 'JWT, bad signature', cred: signJwt(SECRET, { sub: 'alice', iss: 'idp', aud: 'citadel', role: 'admin' }, { tamper: true }), role: null },
      { name: 'JWT, alg none', cred: signJwt(SECRET, { sub: 'alice', iss: 'idp', aud: 'citadel', role: 'admin' }, { alg: 'none' }), role: null },
    ];
    server = await startServer({
      args: ['-m', `tiny=${tinyModel()}`, '-m', `stories=${STORIES}`, '--port', '0', '--host', '127.0.0.1',
        '--kv-mem', '64MiB', '-c', '1024', '-t', '1', '--data-dir', dir, '--keys-db', db,
        '--jwt-secret-file', path.join(dir, 'jwt.secret'), '--jwt-issuer', 'idp', '--jwt-audience', 'citadel'],
    });
    await sleep(1100); // the 1-second key is now expired
  });
  after(async () => {
    if (server) await expectCleanExit(server);
  });

  function expected(route, c) {
    if (route.need === 'public') return 200;
    if (!c.role) return 401;
    if (RANK[c.role] < RANK[route.need]) return 403;
    if (route.model && c.noModel) return 403;
    return 200;
  }

  const engineTokens = async () => {
    const m = await call(server, 'GET', '/metrics', undefined, adminKey);
    assert.equal(m.status, 200);
    return metricSum(m.text, 'citadel:prompt_tokens_total') + metricSum(m.text, 'citadel:generation_tokens_total');
  };

  test('every denied request is refused with the right status, and none reaches the engine', async () => {
    const before = await engineTokens();
    const problems = [];
    for (const c of creds) {
      for (const r of ROUTES) {
        const want = expected(r, c);
        if (want === 200) continue;
        const res = await call(server, r.method, r.path, r.body, c.cred);
        if (res.status !== want) problems.push(`${c.name} × ${r.name}: ${res.status}, want ${want}: ${res.text.slice(0, 200)}`);
        else if (want === 401) assert.equal(res.headers.get('www-authenticate'), 'Bearer');
        // OpenAI's error object, or Ollama's {"error": "..."} on /api routes.
        const msg = r.path.startsWith('/api/') ? res.json?.error : res.json?.error?.message;
        if (typeof msg !== 'string' || !msg) problems.push(`${c.name} × ${r.name}: no error message`);
      }
    }
    assert.deepEqual(problems, []);
    assert.equal(await engineTokens(), before, 'a denied request ran inference');
  });

  test('every allowed request succeeds', async () => {
    const problems = [];
    for (const c of creds) {
      for (const r of ROUTES) {
        if (expected(r, c) !== 200) continue;
        const res = await call(server, r.method, r.path, r.body, c.cred);
        if (res.status !== 200) problems.push(`${c.name} × ${r.name}: ${res.status}: ${res.text.slice(0, 200)}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  test('error bodies name the problem', async () => {
    const none = await call(server, 'GET', '/v1/models');
    assert.equal(none.json.error.code, 'missing_api_key');
    const revoked = await call(server, 'GET', '/v1/models', undefined, creds.find((c) => c.name === 'revoked key').cred);
    assert.equal(revoked.json.error.code, 'revoked_api_key');
    const expired = await call(server, 'GET', '/v1/models', undefined, creds.find((c) => c.name === 'expired key').cred);
    assert.equal(expired.json.error.code, 'expired_api_key');
    const noModel = await call(server, 'POST', '/v1/chat/completions', chat, creds.find((c) => c.noModel).cred);
    assert.equal(noModel.json.error.code, 'model_not_allowed');
    assert.match(noModel.json.error.message, /tiny/);
    const aud = await call(server, 'GET', '/v1/models', undefined, creds.find((c) => c.name === 'JWT, wrong audience').cred);
    assert.match(aud.json.error.message, /audience/);
    const exp = await call(server, 'GET', '/v1/models', undefined, creds.find((c) => c.name === 'JWT, expired').cred);
    assert.match(exp.json.error.message, /expired/);
    const viewer = await call(server, 'POST', '/v1/chat/completions', chat, creds.find((c) => c.role === 'viewer').cred);
    assert.equal(viewer.json.error.code, 'insufficient_role');
  });

  test('x-api-key works like a bearer key; model lists show only allowed models', async () => {
    const r = await call(server, 'GET', '/v1/models', undefined, null, { 'x-api-key': adminKey });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.data.map((m) => m.id).sort(), ['stories', 'tiny']);
    const restricted = await call(server, 'GET', '/v1/models', undefined, creds.find((c) => c.noModel).cred);
    assert.deepEqual(restricted.json.data.map((m) => m.id), ['stories']);
  });

  test('each request is one structured JSON log line with its id, identity and outcome', async () => {
    const r = await call(server, 'GET', '/v1/models', undefined, adminKey, { 'x-request-id': 'log-line-1' });
    assert.equal(r.headers.get('x-request-id'), 'log-line-1');
    await sleep(100);
    const lines = server.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    const rec = lines.find((l) => l.msg === 'request' && l.request_id === 'log-line-1');
    assert.ok(rec, server.tail());
    assert.equal(rec.status, 200);
    assert.equal(rec.route, 'GET /v1/models');
    assert.match(rec.identity, /^key:/);
    assert.ok(!server.stderr.includes(adminKey), 'keys never reach the log');
  });

  test('admin API: create, use, rotate, revoke keys; usage is counted', async () => {
    const made = await call(server, 'POST', '/admin/keys', { name: 'made-by-api', role: 'user', models: ['tiny'], rpm: 100 }, adminKey);
    assert.equal(made.status, 201, made.text);
    assert.match(made.json.key, /^ck_/);
    assert.equal((await call(server, 'POST', '/v1/chat/completions', chat, made.json.key)).status, 200);
    const dup = await call(server, 'POST', '/admin/keys', { name: 'made-by-api' }, adminKey);
    assert.equal(dup.status, 409, dup.text);
    const bad = await call(server, 'POST', '/admin/keys', { name: 'x', role: 'root' }, adminKey);
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.param, 'role');
    const rotated = await call(server, 'POST', `/admin/keys/${made.json.id}/rotate`, {}, adminKey);
    assert.equal(rotated.status, 200, rotated.text);
    assert.equal((await call(server, 'GET', '/v1/models', undefined, made.json.key)).status, 401, 'old secret after rotate');
    assert.equal((await call(server, 'GET', '/v1/models', undefined, rotated.json.key)).status, 200);
    const list = await call(server, 'GET', '/admin/keys', undefined, adminKey);
    assert.ok(list.json.data.some((k) => k.name === 'made-by-api'));
    assert.ok(!list.text.includes(rotated.json.key), 'the list never shows secrets');
    const del = await call(server, 'DELETE', '/admin/keys/made-by-api', undefined, adminKey);
    assert.equal(del.status, 200, del.text);
    assert.equal((await call(server, 'GET', '/v1/models', undefined, rotated.json.key)).status, 401, 'revoked');
    const usage = await call(server, 'GET', '/admin/usage', undefined, adminKey);
    assert.equal(usage.status, 200, usage.text);
    const row = usage.json.data.find((u) => u.name === 'made-by-api');
    assert.ok(row, usage.text);
    assert.equal(row.requests, 1);
    assert.ok(row.prompt_tokens > 0 && row.completion_tokens > 0, JSON.stringify(row));
  });

  test('a key revoked by the CLI while the server runs stops working within seconds', async () => {
    const key = createKey(db, 'short-lived', ['--role', 'viewer']);
    await sleep(1200);
    assert.equal((await call(server, 'GET', '/v1/models', undefined, key)).status, 200);
    assert.equal(keysCli(db, ['revoke', 'short-lived']).status, 0);
    const deadline = Date.now() + 5000;
    let status;
    do {
      await sleep(200);
      status = (await call(server, 'GET', '/v1/models', undefined, key)).status;
    } while (status !== 401 && Date.now() < deadline);
    assert.equal(status, 401);
  });
});

describe('gateway: --no-auth', () => {
  test('is refused on a non-loopback address unless explicitly allowed', async () => {
    const { spawnSync } = await import('node:child_process');
    const { CITADEL } = await import('./lib/harness.mjs');
    const dir = tempDataDir();
    const r = spawnSync(CITADEL, ['serve', '-m', `tiny=${tinyModel()}`, '--host', '0.0.0.0', '--port', '0', '--no-auth', '--data-dir', dir], { encoding: 'utf8', timeout: 20000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--no-auth.*--insecure-allow-no-auth/s);
    const s = await startServer({ args: ['-m', `tiny=${tinyModel()}`, '--host', '0.0.0.0', '--port', '0', '--kv-mem', '32MiB', '-t', '1', '--no-auth', '--insecure-allow-no-auth', '--data-dir', dir] });
    try {
      assert.equal((await call(s, 'GET', '/v1/models')).status, 200);
      assert.equal((await call(s, 'GET', '/admin/keys')).status, 403, 'admin routes need real credentials');
    } finally {
      await expectCleanExit(s);
    }
  });
});

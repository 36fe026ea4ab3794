// The model manager: models loaded on their first request and unloaded when idle, a memory
// budget that fits one model (alternating requests evict and reload), operator load/unload,
// and a directory of models discovered at start.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { STORIES, sleep, startServer, tempDataDir, tinyModel, expectCleanExit, http } from './lib/harness.mjs';
import { call, createKey } from './lib/gateway.mjs';

const ask = (s, model) => http(s, 'POST', '/v1/chat/completions', { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
const states = async (s) => Object.fromEntries((await http(s, 'GET', '/v1/models')).json.data.map((m) => [m.id, m.state]));

async function until(fn, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('model manager', () => {
  test('on demand: loads on the first request, unloads after 2 s idle, loads again', async () => {
    const dir = tempDataDir();
    const cfg = path.join(dir, 'citadel.yaml');
    fs.writeFileSync(cfg, `models:\n  tiny: {path: ${tinyModel()}, idle-unload: 2s}\n  stories: ${STORIES}\n`);
    const s = await startServer({ args: ['--config', cfg, '--port', '0', '--kv-mem', '32MiB', '-t', '1', '--no-auth', '--data-dir', dir] });
    try {
      assert.deepEqual(await states(s), { tiny: 'unloaded', stories: 'ready' }, 'pinned loads at start, on-demand does not');
      const r = await ask(s, 'tiny');
      assert.equal(r.status, 200, r.text);
      assert.equal((await states(s)).tiny, 'ready');
      await until(async () => (await states(s)).tiny === 'unloaded', 'idle unload');
      assert.equal((await states(s)).stories, 'ready', 'pinned models stay');
      assert.equal((await ask(s, 'tiny')).status, 200, 'loads again');
    } finally {
      await expectCleanExit(s);
    }
  });

  test('a budget that fits one model: alternating requests evict and reload', async () => {
    const dir = tempDataDir();
    const cfg = path.join(dir, 'citadel.yaml');
    fs.writeFileSync(cfg, `models:\n  tiny: {path: ${tinyModel()}, on-demand: true}\n  stories: {path: ${STORIES}, on-demand: true}\n`);
    const s = await startServer({ args: ['--config', cfg, '--port', '0', '--kv-mem', '32MiB', '-t', '1', '--no-auth',
      '--models-memory', '52MiB', '--data-dir', dir] });
    try {
      for (const [model, other] of [['tiny', 'stories'], ['stories', 'tiny'], ['tiny', 'stories'], ['stories', 'tiny']]) {
        const r = await ask(s, model);
        assert.equal(r.status, 200, r.text);
        const st = await states(s);
        assert.equal(st[model], 'ready');
        assert.equal(st[other], 'unloaded', `${other} evicted for ${model}`);
      }
      assert.match(s.stderr, /unloaded to make room/);
    } finally {
      await expectCleanExit(s);
    }
  });

  test('operators load and unload; --models-dir discovers models', async () => {
    const dir = tempDataDir();
    const models = path.join(dir, 'models');
    fs.mkdirSync(models);
    fs.copyFileSync(STORIES, path.join(models, 'little.gguf'));
    const admin = createKey(path.join(dir, 'keys.db'), 'ops', ['--role', 'admin']);
    const s = await startServer({ args: ['--models-dir', models, '--port', '0', '--kv-mem', '32MiB', '-t', '1', '--data-dir', dir] });
    try {
      const st = async () => Object.fromEntries((await call(s, 'GET', '/v1/models', undefined, admin)).json.data.map((m) => [m.id, m.state]));
      assert.deepEqual(await st(), { little: 'unloaded' });
      const load = await call(s, 'POST', '/admin/models/little/load', {}, admin);
      assert.equal(load.status, 202, load.text);
      await until(async () => (await st()).little === 'ready', 'operator load');
      const unload = await call(s, 'POST', '/admin/models/little/unload', {}, admin);
      assert.equal(unload.status, 200, unload.text);
      assert.equal((await st()).little, 'unloaded');
      assert.equal((await call(s, 'POST', '/admin/models/nope/load', {}, admin)).status, 404);
      const r = await call(s, 'POST', '/v1/chat/completions', { model: 'little', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }, admin);
      assert.equal(r.status, 200, r.text);
    } finally {
      await expectCleanExit(s);
    }
  });
});

// The Ollama-compatible API (/api/chat, /api/generate, /api/tags, /api/show, /api/version)
// through the official `ollama` npm client.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { http, startServer, expectCleanExit } from './lib/harness.mjs';

let server;
let ollama;

before(async () => {
  server = await startServer();
  ollama = new Ollama({ host: server.url });
});

after(() => expectCleanExit(server));

const messages = [{ role: 'user', content: 'Tell me about the sea.' }];
const stripTag = (n) => n.replace(/:latest$/, '');

function checkFinal(r) {
  assert.equal(r.done, true);
  assert.ok(['stop', 'length'].includes(r.done_reason), `done_reason ${r.done_reason}`);
  assert.ok(Number.isInteger(r.eval_count) && r.eval_count > 0, `eval_count ${r.eval_count}`);
  assert.ok(Number.isInteger(r.prompt_eval_count) && r.prompt_eval_count > 0, `prompt_eval_count ${r.prompt_eval_count}`);
  for (const k of ['total_duration', 'eval_duration']) {
    if (k in r) assert.ok(Number.isFinite(r[k]) && r[k] >= 0, `${k} ${r[k]}`);
  }
}

describe('ollama chat', () => {
  test('non-stream: message.content, done, counts', async () => {
    const r = await ollama.chat({ model: 'tiny', messages, stream: false, options: { temperature: 0, num_predict: 12 } });
    assert.equal(stripTag(r.model), 'tiny');
    assert.equal(r.message.role, 'assistant');
    assert.equal(typeof r.message.content, 'string');
    checkFinal(r);
    assert.ok(r.eval_count <= 12);
    assert.equal(typeof r.created_at, 'string');
    assert.ok(!Number.isNaN(Date.parse(r.created_at)), `created_at ${r.created_at}`);
  });

  test('stream: parts concatenate to the non-streamed content; last part done', async () => {
    const opts = { temperature: 0, num_predict: 16 };
    const ns = await ollama.chat({ model: 'tiny', messages, stream: false, options: opts });
    const parts = [];
    for await (const p of await ollama.chat({ model: 'tiny', messages, stream: true, options: opts })) parts.push(p);
    assert.ok(parts.length >= 2, `${parts.length} parts`);
    const last = parts.at(-1);
    checkFinal(last);
    for (const p of parts.slice(0, -1)) assert.equal(p.done, false);
    assert.equal(parts.map((p) => p.message?.content ?? '').join(''), ns.message.content);
    assert.equal(last.eval_count, ns.eval_count);
    assert.equal(last.prompt_eval_count, ns.prompt_eval_count);
  });

  test('seed + temperature 1 is reproducible; num_predict with a seed and stop', async () => {
    const opts = { temperature: 1, seed: 42, num_predict: 16 };
    const a = await ollama.chat({ model: 'tiny', messages, options: opts });
    const b = await ollama.chat({ model: 'tiny', messages, options: opts });
    assert.equal(a.message.content, b.message.content);
    const c = [...a.message.content];
    if (c.length >= 8) {
      const stop = c.slice(4, 7).join('');
      const s = await ollama.chat({ model: 'tiny', messages, options: { ...opts, stop: [stop] } });
      assert.equal(s.message.content, a.message.content.slice(0, a.message.content.indexOf(stop)));
      assert.equal(s.done_reason, 'stop');
    }
  });

  test('prompt_eval_count matches the OpenAI endpoint for the same messages', async () => {
    const r = await ollama.chat({ model: 'tiny', messages, options: { temperature: 0, num_predict: 2 } });
    const o = new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-test', maxRetries: 0 });
    const c = await o.chat.completions.create({ model: 'tiny', messages, max_tokens: 2, temperature: 0 });
    assert.equal(r.prompt_eval_count, c.usage.prompt_tokens);
    assert.equal(r.message.content, c.choices[0].message.content);
  });

  test('unknown model -> ResponseError 404', async () => {
    await assert.rejects(ollama.chat({ model: 'nope', messages }), (e) => {
      assert.equal(e.name, 'ResponseError');
      assert.equal(e.status_code, 404);
      assert.ok(e.error.length > 0);
      return true;
    });
    const raw = await http(server, 'POST', '/api/chat', { model: 'nope', messages });
    assert.equal(raw.status, 404);
    assert.equal(typeof raw.json?.error, 'string', `Ollama errors are {"error": "..."}: ${raw.text}`);
  });
});

describe('ollama generate', () => {
  test('non-stream and stream agree', async () => {
    const opts = { temperature: 0, num_predict: 12 };
    const r = await ollama.generate({ model: 'tiny', prompt: 'Why is the sky blue?', stream: false, options: opts });
    assert.equal(typeof r.response, 'string');
    checkFinal(r);
    const parts = [];
    for await (const p of await ollama.generate({ model: 'tiny', prompt: 'Why is the sky blue?', stream: true, options: opts })) parts.push(p);
    checkFinal(parts.at(-1));
    assert.equal(parts.map((p) => p.response).join(''), r.response);
  });

  test('generate (not raw) is the prompt as a user message under the chat template', async () => {
    const g = await ollama.generate({ model: 'tiny', prompt: 'Why is the sky blue?', options: { temperature: 0, num_predict: 8 } });
    const c = await ollama.chat({ model: 'tiny', messages: [{ role: 'user', content: 'Why is the sky blue?' }], options: { temperature: 0, num_predict: 8 } });
    assert.equal(g.response, c.message.content);
    assert.equal(g.prompt_eval_count, c.prompt_eval_count);
  });

  test('system and tools reach the prompt', async () => {
    const opts = { temperature: 0, num_predict: 2 };
    const plain = await ollama.generate({ model: 'tiny', prompt: 'hi', options: opts });
    const sys = await ollama.generate({ model: 'tiny', prompt: 'hi', system: 'You are a pirate who answers in rhymes.', options: opts });
    assert.ok(sys.prompt_eval_count > plain.prompt_eval_count + 5, `${sys.prompt_eval_count} vs ${plain.prompt_eval_count}`);
    const tools = [{ type: 'function', function: { name: 'get_weather', description: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
    const a = await ollama.chat({ model: 'tiny', messages, options: opts });
    const b = await ollama.chat({ model: 'tiny', messages, tools, options: opts });
    assert.ok(b.prompt_eval_count > a.prompt_eval_count + 20, `${b.prompt_eval_count} vs ${a.prompt_eval_count}`);
  });

  test('raw: true continues the text as /v1/completions does', async () => {
    const prompt = 'Once upon a time, there was a little';
    const g = await ollama.generate({ model: 'stories', prompt, raw: true, options: { temperature: 0, num_predict: 16 } });
    const o = new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-test', maxRetries: 0 });
    const c = await o.completions.create({ model: 'stories', prompt, max_tokens: 16, temperature: 0 });
    assert.ok(g.response.length > 0);
    assert.equal(g.response, c.choices[0].text);
    assert.equal(g.eval_count, c.usage.completion_tokens);
    assert.equal(g.prompt_eval_count, c.usage.prompt_tokens);
  });

  test('format json (todo if unsupported)', async (t) => {
    let r;
    try {
      r = await ollama.generate({ model: 'tiny', prompt: 'A JSON object please', format: 'json', options: { temperature: 0.8, seed: 1, num_predict: 200 } });
    } catch (e) {
      if (e.status_code === 400) return t.todo(`format json refused: ${e.error}`);
      throw e;
    }
    const v = JSON.parse(r.response);
    assert.ok(v && typeof v === 'object' && !Array.isArray(v), r.response);
  });
});

describe('ollama metadata', () => {
  test('list (/api/tags)', async () => {
    const r = await ollama.list();
    const names = r.models.map((m) => stripTag(m.name)).sort();
    assert.deepEqual(names, ['stories', 'tiny']);
    for (const m of r.models) {
      assert.ok(m.size > 0, `size ${m.size}`);
      assert.equal(typeof m.digest, 'string');
      assert.ok(m.details && typeof m.details === 'object');
      assert.ok(!Number.isNaN(new Date(m.modified_at).getTime()), `modified_at ${m.modified_at}`);
    }
    const tiny = r.models.find((m) => stripTag(m.name) === 'tiny');
    assert.equal(tiny.details.family, 'qwen3');
    assert.equal(String(tiny.details.quantization_level).toUpperCase(), 'Q8_0');
  });

  test('show (/api/show)', async () => {
    const r = await ollama.show({ model: 'tiny' });
    assert.equal(typeof r.template, 'string');
    assert.match(r.template, /im_start/);
    assert.equal(r.details.family, 'qwen3');
    await assert.rejects(ollama.show({ model: 'nope' }), (e) => e.status_code === 404);
  });

  test('version (/api/version)', async () => {
    const r = await ollama.version();
    assert.equal(typeof r.version, 'string');
    assert.ok(r.version.length > 0);
  });
});

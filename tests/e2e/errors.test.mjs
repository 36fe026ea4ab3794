// Errors in OpenAI's shape {"error": {message, type, param, code}}: bad bodies and values
// (400), unknown models and routes (404), wrong methods (405), too-large bodies (413), too
// long prompts (400 context_length_exceeded), and a full queue (503 + Retry-After).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { errorShapeProblem, http, startServer, expectCleanExit } from './lib/harness.mjs';

let server;
let client;

before(async () => {
  server = await startServer({ extra: ['--max-body', '64KiB'] });
  client = new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-test', maxRetries: 0, timeout: 60000 });
});

after(() => expectCleanExit(server));

const base = { model: 'tiny', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4 };

function expectError(r, status, { param, code, type } = {}) {
  const ctx = `HTTP ${r.status} ${r.text}`;
  assert.equal(r.status, status, ctx);
  assert.equal(errorShapeProblem(r.json), '', ctx);
  // The field, or a path inside it ("logit_bias.5", "messages[0].role").
  if (param !== undefined) assert.ok(r.json.error.param === param || /^[.[]/.test(String(r.json.error.param).slice(param.length)) && String(r.json.error.param).startsWith(param), `param ${r.json.error.param}, expected ${param}: ${ctx}`);
  if (code !== undefined) assert.equal(r.json.error.code, code, ctx);
  if (type !== undefined) assert.equal(r.json.error.type, type, ctx);
  assert.match(r.headers.get('content-type') ?? '', /application\/json/);
}

describe('400 bad requests', () => {
  test('invalid JSON', async () => {
    expectError(await http(server, 'POST', '/v1/chat/completions', '{"model": "tiny", "messages": ['), 400, { type: 'invalid_request_error' });
    expectError(await http(server, 'POST', '/v1/completions', 'not json at all'), 400, { type: 'invalid_request_error' });
    expectError(await http(server, 'POST', '/v1/chat/completions', ''), 400, { type: 'invalid_request_error' });
    expectError(await http(server, 'POST', '/v1/chat/completions', '[1,2,3]'), 400, { type: 'invalid_request_error' });
  });

  const cases = [
    ['temperature', { temperature: 'hot' }],
    ['temperature', { temperature: -1 }],
    ['temperature', { temperature: 5 }],
    ['top_p', { top_p: 1.5 }],
    ['top_p', { top_p: 'x' }],
    ['messages', { messages: 5 }],
    ['messages', { messages: [] }],
    ['messages', { messages: undefined }],
    ['max_tokens', { max_tokens: -1 }],
    ['max_tokens', { max_tokens: 'ten' }],
    ['max_tokens', { max_tokens: 1.5 }],
    ['n', { n: 0 }],
    ['n', { n: 'two' }],
    ['presence_penalty', { presence_penalty: 3 }],
    ['frequency_penalty', { frequency_penalty: -3 }],
    ['top_logprobs', { logprobs: true, top_logprobs: 50 }],
    ['stop', { stop: 5 }],
    ['seed', { seed: 'abc' }],
    ['stream', { stream: 'yes' }],
    ['logit_bias', { logit_bias: { 5: 500 } }],
    ['logit_bias', { logit_bias: { notanid: 1 } }],
    ['logit_bias', { logit_bias: { 999999999: 5 } }],
    ['model', { model: 7 }],
  ];
  for (const [param, patch] of cases) {
    test(`${JSON.stringify(patch)} -> 400 param ${param}`, async () => {
      const body = { ...base, ...patch };
      expectError(await http(server, 'POST', '/v1/chat/completions', body), 400, { param, type: 'invalid_request_error' });
    });
  }

  test('no model field while two models are served -> 400 param model', async () => {
    const { model, ...rest } = base;
    void model;
    expectError(await http(server, 'POST', '/v1/chat/completions', rest), 400, { param: 'model' });
  });

  test('errors of streamed requests are plain JSON with the status', async () => {
    const r = await http(server, 'POST', '/v1/chat/completions', { ...base, model: 'nope', stream: true });
    expectError(r, 404, { code: 'model_not_found' });
    const b = await http(server, 'POST', '/v1/chat/completions', { ...base, temperature: 'hot', stream: true });
    expectError(b, 400, { param: 'temperature' });
  });

  test('bad message role / content', async () => {
    expectError(await http(server, 'POST', '/v1/chat/completions', { ...base, messages: [{ role: 'wizard', content: 'x' }] }), 400, { type: 'invalid_request_error' });
    expectError(await http(server, 'POST', '/v1/chat/completions', { ...base, messages: [{ role: 'user', content: 42 }] }), 400, { type: 'invalid_request_error' });
    expectError(await http(server, 'POST', '/v1/chat/completions', { ...base, messages: ['hi'] }), 400, { type: 'invalid_request_error' });
  });

  test('completions: bad prompt and out-of-vocabulary ids', async () => {
    expectError(await http(server, 'POST', '/v1/completions', { model: 'stories', prompt: 5, max_tokens: 2 }), 400, { param: 'prompt' });
    expectError(await http(server, 'POST', '/v1/completions', { model: 'stories', prompt: [1, 99999999], max_tokens: 2 }), 400, { param: 'prompt' });
    expectError(await http(server, 'POST', '/v1/completions', { model: 'stories', prompt: 'x', max_tokens: 2, logprobs: 50 }), 400, { param: 'logprobs' });
  });

  test('the SDK surfaces 400 as BadRequestError with .status and .error', async () => {
    await assert.rejects(client.chat.completions.create({ ...base, temperature: 'hot' }), (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, e.constructor.name);
      assert.equal(e.status, 400);
      assert.equal(e.error.param, 'temperature');
      assert.equal(e.error.type, 'invalid_request_error');
      return true;
    });
  });
});

describe('404 / 405', () => {
  test('unknown model -> 404 model_not_found (chat, completions, SDK)', async () => {
    expectError(await http(server, 'POST', '/v1/chat/completions', { ...base, model: 'gpt-17' }), 404, { code: 'model_not_found', param: 'model' });
    expectError(await http(server, 'POST', '/v1/completions', { model: 'gpt-17', prompt: 'x' }), 404, { code: 'model_not_found' });
    await assert.rejects(client.chat.completions.create({ ...base, model: 'gpt-17' }), (e) => {
      assert.ok(e instanceof OpenAI.NotFoundError, e.constructor.name);
      assert.equal(e.status, 404);
      assert.equal(e.error.code, 'model_not_found');
      return true;
    });
  });

  test('unknown route -> 404 with the error shape', async () => {
    expectError(await http(server, 'GET', '/v1/nope'), 404);
    expectError(await http(server, 'POST', '/v1/embeddingz', { input: 'x' }), 404);
  });

  test('wrong method -> 405', async () => {
    expectError(await http(server, 'GET', '/v1/chat/completions'), 405);
    expectError(await http(server, 'DELETE', '/v1/models'), 405);
    expectError(await http(server, 'PUT', '/v1/completions', { model: 'tiny', prompt: 'x' }), 405);
  });
});

describe('413 / context length', () => {
  test('a body larger than --max-body (64KiB) -> 413', async () => {
    const body = JSON.stringify({ ...base, messages: [{ role: 'user', content: 'x'.repeat(100 * 1024) }] });
    const r = await http(server, 'POST', '/v1/chat/completions', body);
    assert.equal(r.status, 413, r.text);
    assert.equal(errorShapeProblem(r.json), '', r.text);
    assert.equal((await http(server, 'GET', '/health')).status, 200);
  });

  test('a body just under --max-body is accepted', async () => {
    const body = JSON.stringify({ model: 'tiny', prompt: 'hi', max_tokens: 1, user: 'u'.repeat(60 * 1024) });
    const r = await http(server, 'POST', '/v1/completions', body);
    assert.equal(r.status, 200, r.text.slice(0, 500));
  });

  test('a chat prompt longer than the context -> 400 context_length_exceeded', async () => {
    const content = ' hello'.repeat(3000);
    const r = await http(server, 'POST', '/v1/chat/completions', { ...base, messages: [{ role: 'user', content }] });
    expectError(r, 400, { code: 'context_length_exceeded', type: 'invalid_request_error' });
    assert.match(r.json.error.message, /2048/);
    const nums = (r.json.error.message.match(/\d+/g) ?? []).map(Number);
    assert.ok(nums.some((n) => n > 2048), `message names the prompt length: ${r.json.error.message}`);
  });

  test('a completion prompt longer than the context names both lengths', async () => {
    const prompt = ' hello'.repeat(3000);
    const tok = await http(server, 'POST', '/tokenize', { model: 'tiny', prompt, add_special: true });
    const r = await http(server, 'POST', '/v1/completions', { model: 'tiny', prompt, max_tokens: 4 });
    expectError(r, 400, { code: 'context_length_exceeded' });
    assert.match(r.json.error.message, /2048/);
    assert.ok(r.json.error.message.includes(String(tok.json.count)), `message ${r.json.error.message} lacks ${tok.json.count}`);
  });

  test('max_tokens beyond the context -> 400 (not 500)', async () => {
    const r = await http(server, 'POST', '/v1/chat/completions', { ...base, max_tokens: 100000 });
    expectError(r, 400);
  });
});

describe('503 when the queue is full', () => {
  let small;
  before(async () => {
    small = await startServer({ extra: ['--max-queue', '1', '--max-seqs', '1'] });
  });
  after(async () => {
    const { code } = await small.stop();
    assert.equal(code, 0, small.tail());
  });

  test('10 concurrent long requests: some 503 with Retry-After, no other 5xx', async () => {
    const body = { model: 'tiny', messages: [{ role: 'user', content: 'Write a long story.' }], max_tokens: 200, ignore_eos: true, temperature: 1, seed: 1 };
    const rs = await Promise.all(Array.from({ length: 10 }, () => http(small, 'POST', '/v1/chat/completions', body)));
    const statuses = rs.map((r) => r.status);
    const busy = rs.filter((r) => r.status === 503);
    assert.ok(busy.length >= 1, `statuses ${statuses}`);
    for (const r of busy) {
      assert.ok(r.headers.get('retry-after'), 'Retry-After header');
      assert.match(r.headers.get('retry-after'), /^\d+$/);
      assert.equal(errorShapeProblem(r.json), '', r.text);
    }
    for (const r of rs) assert.ok(r.status === 200 || r.status === 503, `unexpected ${r.status}: ${r.text.slice(0, 300)}`);
    assert.ok(statuses.filter((s) => s === 200).length >= 1, `statuses ${statuses}`);
    for (const r of rs.filter((x) => x.status === 200)) assert.equal(r.json.usage.completion_tokens, 200);
    // The server is still serving.
    const after = await http(small, 'POST', '/v1/chat/completions', { ...body, max_tokens: 4 });
    assert.equal(after.status, 200, after.text);
  });

  test('the SDK sees 503 as an APIError (InternalServerError) with status 503', async () => {
    const c = new OpenAI({ baseURL: small.baseURL, apiKey: 'sk-test', maxRetries: 0 });
    const body = { model: 'tiny', messages: [{ role: 'user', content: 'Go.' }], max_tokens: 200, ignore_eos: true };
    const rs = await Promise.allSettled(Array.from({ length: 8 }, () => c.chat.completions.create(body)));
    const rejected = rs.filter((r) => r.status === 'rejected').map((r) => r.reason);
    assert.ok(rejected.length >= 1);
    for (const e of rejected) {
      assert.ok(e instanceof OpenAI.APIError, String(e));
      assert.equal(e.status, 503);
      assert.equal(typeof e.error?.message, 'string');
    }
  });
});

// POST /v1/chat/completions through the official `openai` npm client: sampling parameters,
// determinism, stop strings, n, logprobs, usage, streaming, JSON mode and the extensions.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { http, startServer, expectCleanExit } from './lib/harness.mjs';

let server;
let client;

before(async () => {
  server = await startServer();
  client = new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-test', maxRetries: 0, timeout: 60000 });
});

after(() => expectCleanExit(server));

const hello = [{ role: 'user', content: 'Hello! Tell me a story about a cat.' }];

function chat(params) {
  return client.chat.completions.create({ model: 'tiny', messages: hello, max_tokens: 16, ...params });
}

// Collects a streamed chat completion: text per choice, all chunks, the usage chunk.
async function streamChat(params) {
  const stream = await client.chat.completions.create({ model: 'tiny', messages: hello, max_tokens: 16, ...params, stream: true });
  const chunks = [];
  const text = [];
  const finish = [];
  for await (const c of stream) {
    chunks.push(c);
    for (const ch of c.choices) {
      text[ch.index] = (text[ch.index] ?? '') + (ch.delta?.content ?? '');
      if (ch.finish_reason) finish[ch.index] = ch.finish_reason;
    }
  }
  return { chunks, text, finish };
}

// A seeded temperature-1 reply long enough to cut with a stop string (tries a few seeds in
// case a seed happens to draw an end-of-turn token early).
async function longSeededReply(extra = {}) {
  for (let seed = 11; seed < 30; seed++) {
    const r = await chat({ temperature: 1, seed, max_tokens: 24, logprobs: true, ...extra });
    const content = r.choices[0].message.content;
    if ([...content].length >= 12 && r.choices[0].logprobs?.content?.length >= 6) return { seed, r, content };
  }
  throw new Error('no seed in 11..29 gave a reply of 12+ characters');
}

describe('chat completions: shape', () => {
  test('basic reply has OpenAI shape and usage', async () => {
    const r = await chat({ temperature: 0 });
    assert.match(r.id, /^chatcmpl-/);
    assert.equal(r.object, 'chat.completion');
    assert.equal(typeof r.created, 'number');
    assert.equal(r.model, 'tiny');
    assert.equal(r.choices.length, 1);
    const c = r.choices[0];
    assert.equal(c.index, 0);
    assert.equal(c.message.role, 'assistant');
    assert.equal(typeof c.message.content, 'string');
    assert.ok(['stop', 'length'].includes(c.finish_reason), `finish_reason ${c.finish_reason}`);
    const u = r.usage;
    assert.ok(u.prompt_tokens > 0);
    assert.ok(u.completion_tokens > 0 && u.completion_tokens <= 16);
    assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
    assert.equal(typeof u.prompt_tokens_details?.cached_tokens, 'number');
  });

  test('array-of-text-parts content equals the same string content', async () => {
    const req = (content) => client.chat.completions.create({ model: 'tiny', temperature: 0, max_tokens: 12, logprobs: true, messages: [{ role: 'user', content }] });
    const one = await req([{ type: 'text', text: 'Hello! Tell me a story about a cat.' }]);
    const str = await req('Hello! Tell me a story about a cat.');
    assert.equal(one.usage.prompt_tokens, str.usage.prompt_tokens);
    assert.equal(one.choices[0].message.content, str.choices[0].message.content);
    // Several text parts are joined (with "\n", as vLLM does).
    const two = await req([{ type: 'text', text: 'Hello! Tell me' }, { type: 'text', text: 'a story about a cat.' }]);
    const joined = await req('Hello! Tell me\na story about a cat.');
    assert.equal(two.usage.prompt_tokens, joined.usage.prompt_tokens);
    assert.deepEqual(two.choices[0].logprobs.content.map((x) => x.logprob), joined.choices[0].logprobs.content.map((x) => x.logprob));
  });

  test('image parts are refused with 400 (text-only models)', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'tiny', max_tokens: 2, messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] }] }),
      (e) => e.status === 400,
    );
  });

  test('extra OpenAI fields (user, metadata, store, service_tier, parallel_tool_calls) are accepted', async () => {
    const r = await chat({ temperature: 0, max_tokens: 2, user: 'u-1', metadata: { k: 'v' }, store: false, service_tier: 'auto', parallel_tool_calls: true });
    assert.equal(r.choices.length, 1);
  });

  test('concurrent seeded requests give the same replies as one at a time', async () => {
    const reqs = Array.from({ length: 6 }, (_, i) => ({ temperature: 1, seed: 100 + i, max_tokens: 16, messages: [{ role: 'user', content: `Story number ${i}` }] }));
    const one = [];
    for (const q of reqs) one.push((await chat(q)).choices[0].message.content);
    const all = await Promise.all(reqs.map((q) => chat(q)));
    assert.deepEqual(all.map((r) => r.choices[0].message.content), one);
  });

  test('system + multi-turn messages are accepted', async () => {
    const r = await client.chat.completions.create({
      model: 'tiny', temperature: 0, max_tokens: 8,
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'developer', content: 'Answer in English.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello.' },
        { role: 'user', content: 'How are you?' },
      ],
    });
    assert.equal(typeof r.choices[0].message.content, 'string');
  });
});

describe('chat completions: sampling', () => {
  test('temperature 0 is deterministic', async () => {
    const a = await chat({ temperature: 0 });
    const b = await chat({ temperature: 0 });
    assert.equal(a.choices[0].message.content, b.choices[0].message.content);
  });

  test('same seed + same request => identical output (temperature 1)', async () => {
    const a = await chat({ temperature: 1, seed: 1234, max_tokens: 24 });
    const b = await chat({ temperature: 1, seed: 1234, max_tokens: 24 });
    assert.equal(a.choices[0].message.content, b.choices[0].message.content);
    assert.equal(a.usage.completion_tokens, b.usage.completion_tokens);
  });

  test('different seeds give different outputs (temperature 1)', async () => {
    const outs = new Set();
    for (const seed of [1, 2, 3, 4]) outs.add((await chat({ temperature: 1, seed, max_tokens: 16, ignore_eos: true })).choices[0].message.content);
    assert.ok(outs.size >= 2, 'four seeds gave the same reply');
  });

  test('top_k 1, min_p 1 and a tiny top_p are greedy (equal temperature 0)', async () => {
    const greedy = (await chat({ temperature: 0, ignore_eos: true })).choices[0].message.content;
    const k1 = (await chat({ temperature: 1, seed: 5, top_k: 1, ignore_eos: true })).choices[0].message.content;
    const p0 = (await chat({ temperature: 1, seed: 6, top_p: 1e-9, ignore_eos: true })).choices[0].message.content;
    const m1 = (await chat({ temperature: 1, seed: 7, min_p: 1, ignore_eos: true })).choices[0].message.content;
    assert.equal(k1, greedy, 'top_k=1');
    assert.equal(p0, greedy, 'top_p=1e-9');
    assert.equal(m1, greedy, 'min_p=1');
  });

  test('repetition_penalty, presence_penalty and frequency_penalty are accepted', async () => {
    for (const p of [{ repetition_penalty: 1.3 }, { presence_penalty: 1.5 }, { frequency_penalty: -1 }, { presence_penalty: 2, frequency_penalty: 2 }]) {
      const r = await chat({ temperature: 0.7, seed: 3, max_tokens: 8, ...p });
      assert.equal(typeof r.choices[0].message.content, 'string', JSON.stringify(p));
    }
  });

  test('penalties change a greedy reply that repeats tokens', async (t) => {
    const base = await chat({ temperature: 0, max_tokens: 24, ignore_eos: true, logprobs: true });
    const toks = base.choices[0].logprobs.content.map((x) => x.token);
    if (new Set(toks).size === toks.length) return t.skip('the greedy reply repeats no token');
    const pen = await chat({ temperature: 0, max_tokens: 24, ignore_eos: true, logprobs: true, frequency_penalty: 2, presence_penalty: 2 });
    const penToks = pen.choices[0].logprobs.content.map((x) => x.token);
    assert.notDeepEqual(penToks, toks, 'frequency/presence penalty 2 did not change a repetitive greedy reply');
    const rep = await chat({ temperature: 0, max_tokens: 24, ignore_eos: true, logprobs: true, repetition_penalty: 5 });
    assert.notDeepEqual(rep.choices[0].logprobs.content.map((x) => x.token), toks, 'repetition_penalty 5 did not change a repetitive greedy reply');
  });

  test('logit_bias +100 forces a token; -100 bans the greedy first token', async () => {
    const tok = await http(server, 'POST', '/tokenize', { model: 'tiny', prompt: ' banana', add_special: false });
    assert.equal(tok.status, 200, tok.text);
    assert.equal(tok.json.tokens.length, 1, `' banana' is one token: ${tok.text}`);
    const id = tok.json.tokens[0];
    const r = await chat({ temperature: 1, seed: 9, max_tokens: 5, ignore_eos: true, logit_bias: { [id]: 100 } });
    assert.equal(r.choices[0].message.content, ' banana'.repeat(5));

    const g = await chat({ temperature: 0, max_tokens: 1, ignore_eos: true, logprobs: true });
    const first = g.choices[0].logprobs.content[0];
    const ids = await http(server, 'POST', '/tokenize', { model: 'tiny', prompt: first.token, add_special: false });
    if (ids.json?.tokens?.length === 1) {
      const banned = await chat({ temperature: 0, max_tokens: 1, ignore_eos: true, logprobs: true, logit_bias: { [ids.json.tokens[0]]: -100 } });
      assert.notEqual(banned.choices[0].logprobs.content[0].token, first.token);
    }
  });

  test('ignore_eos + max_tokens N => exactly N completion tokens, finish_reason length', async () => {
    const r = await chat({ temperature: 1, seed: 2, max_tokens: 20, ignore_eos: true });
    assert.equal(r.usage.completion_tokens, 20);
    assert.equal(r.choices[0].finish_reason, 'length');
  });

  test('max_completion_tokens limits the reply like max_tokens', async () => {
    const r = await client.chat.completions.create({ model: 'tiny', messages: hello, max_completion_tokens: 7, ignore_eos: true, temperature: 1, seed: 4 });
    assert.equal(r.usage.completion_tokens, 7);
    assert.equal(r.choices[0].finish_reason, 'length');
  });
});

describe('chat completions: stop strings', () => {
  test('a stop string from the middle of a seeded reply cuts it there', async () => {
    const { seed, content } = await longSeededReply();
    const cs = [...content];
    const mid = Math.floor(cs.length / 2);
    let stop = cs.slice(mid, mid + 3).join('');
    if (stop.trim() === '') stop = cs.slice(mid - 2, mid + 3).join('');
    const expected = content.slice(0, content.indexOf(stop));
    const r = await chat({ temperature: 1, seed, max_tokens: 24, logprobs: true, stop });
    assert.equal(r.choices[0].message.content, expected, `stop ${JSON.stringify(stop)} seed ${seed}; full ${JSON.stringify(content)}`);
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.ok(!r.choices[0].message.content.includes(stop));
    assert.equal(r.usage.completion_tokens, r.choices[0].logprobs.content.length, 'completion_tokens === logprobs.content.length');
  });

  test('a stop string matching the first characters gives an empty reply', async () => {
    const { seed, content } = await longSeededReply();
    const stop = [...content].slice(0, 2).join('');
    const r = await chat({ temperature: 1, seed, max_tokens: 24, stop });
    assert.equal(r.choices[0].message.content, '');
    assert.equal(r.choices[0].finish_reason, 'stop');
    const s = await streamChat({ temperature: 1, seed, max_tokens: 24, stop });
    assert.equal(s.text[0] ?? '', '');
    assert.equal(s.finish[0], 'stop');
  });

  test('a stop string spanning a token boundary is matched (non-stream and stream, list form)', async () => {
    const { seed, r: full, content } = await longSeededReply();
    // Character offsets of token boundaries where the text so far decodes cleanly.
    const pieces = full.choices[0].logprobs.content;
    let bytes = Buffer.alloc(0);
    const boundaries = [];
    for (let i = 0; i < pieces.length - 1; i++) {
      bytes = Buffer.concat([bytes, Buffer.from(pieces[i].bytes ?? Buffer.from(pieces[i].token))]);
      const s = bytes.toString('utf8');
      if (!s.includes('\uFFFD') && content.startsWith(s)) boundaries.push(s.length);
    }
    const cand = boundaries.filter((p) => p >= 2 && p + 2 <= content.length);
    assert.ok(cand.length > 0, `no usable token boundary in ${JSON.stringify(content)}`);
    const p = cand[Math.floor(cand.length / 2)];
    let stop = content.slice(p - 2, p + 2);
    if (stop.trim() === '') stop = content.slice(p - 3, p + 3);
    const expected = content.slice(0, content.indexOf(stop));
    const ns = await chat({ temperature: 1, seed, max_tokens: 24, stop: ['@@never@@', stop] });
    assert.equal(ns.choices[0].message.content, expected, `stop ${JSON.stringify(stop)} seed ${seed}; full ${JSON.stringify(content)}`);
    assert.equal(ns.choices[0].finish_reason, 'stop');
    const s = await streamChat({ temperature: 1, seed, max_tokens: 24, stop: ['@@never@@', stop] });
    assert.equal(s.text[0], expected, 'streamed text');
    assert.ok(!s.text[0].includes(stop));
    assert.equal(s.finish[0], 'stop');
  });
});

describe('chat completions: n, logprobs, usage', () => {
  test('n=3 gives choices 0..2, each a reply', async () => {
    const r = await chat({ n: 3, temperature: 1, seed: 21, max_tokens: 8 });
    assert.equal(r.choices.length, 3);
    assert.deepEqual(r.choices.map((c) => c.index).sort(), [0, 1, 2]);
    for (const c of r.choices) assert.equal(typeof c.message.content, 'string');
    assert.ok(r.usage.completion_tokens >= 3, 'usage counts all choices');
    const fixed = await chat({ n: 3, temperature: 1, seed: 21, max_tokens: 5, ignore_eos: true });
    const single = await chat({ temperature: 1, seed: 21, max_tokens: 5, ignore_eos: true });
    assert.equal(fixed.usage.completion_tokens, 15, 'completion_tokens sums the choices');
    assert.equal(fixed.usage.prompt_tokens, single.usage.prompt_tokens, 'the prompt is counted once');
    assert.equal(fixed.choices.find((c) => c.index === 0).message.content, single.choices[0].message.content, 'choice 0 of a seeded n=3 equals the n=1 reply');
    const again = await chat({ n: 3, temperature: 1, seed: 21, max_tokens: 8 });
    assert.deepEqual(again.choices.map((c) => c.message.content), r.choices.map((c) => c.message.content));
  });

  test('logprobs + top_logprobs: shape and completion_tokens === content.length', async () => {
    const r = await chat({ temperature: 1, seed: 8, max_tokens: 10, logprobs: true, top_logprobs: 3 });
    const lp = r.choices[0].logprobs;
    assert.ok(Array.isArray(lp?.content), `logprobs: ${JSON.stringify(lp)}`);
    assert.equal(r.usage.completion_tokens, lp.content.length);
    const joined = Buffer.concat(lp.content.map((x) => Buffer.from(x.bytes ?? []))).toString('utf8');
    for (const e of lp.content) {
      assert.equal(typeof e.token, 'string');
      assert.ok(e.logprob <= 0, `logprob ${e.logprob}`);
      assert.ok(Array.isArray(e.bytes) && e.bytes.every((b) => Number.isInteger(b) && b >= 0 && b < 256), `bytes ${JSON.stringify(e.bytes)}`);
      assert.equal(e.top_logprobs.length, 3);
      for (let i = 0; i < e.top_logprobs.length; i++) {
        const tl = e.top_logprobs[i];
        assert.equal(typeof tl.token, 'string');
        assert.ok(tl.logprob <= 0);
        if (i > 0) assert.ok(e.top_logprobs[i - 1].logprob >= tl.logprob, 'top_logprobs sorted');
      }
    }
    if (r.choices[0].finish_reason === 'length') assert.equal(joined, r.choices[0].message.content, 'bytes concatenate to the content');
  });

  test('greedy logprobs: the chosen token is the top-1 alternative', async () => {
    const r = await chat({ temperature: 0, max_tokens: 6, logprobs: true, top_logprobs: 2, ignore_eos: true });
    for (const e of r.choices[0].logprobs.content) {
      assert.equal(e.top_logprobs[0].token, e.token);
      assert.ok(Math.abs(e.top_logprobs[0].logprob - e.logprob) < 1e-4);
    }
  });

  test('prompt_tokens: identical for identical messages, grows with another message', async () => {
    const a = await chat({ temperature: 0, max_tokens: 2 });
    const b = await chat({ temperature: 0, max_tokens: 2 });
    assert.equal(a.usage.prompt_tokens, b.usage.prompt_tokens);
    const c = await client.chat.completions.create({
      model: 'tiny', temperature: 0, max_tokens: 2,
      messages: [...hello, { role: 'assistant', content: 'Once upon a time.' }, { role: 'user', content: 'More.' }],
    });
    assert.ok(c.usage.prompt_tokens > a.usage.prompt_tokens + 5, `${c.usage.prompt_tokens} vs ${a.usage.prompt_tokens}`);
  });

  test('a repeated long prompt reports cached_tokens > 0 (prefix cache)', async () => {
    const long = 'The quick brown fox jumps over the lazy dog near the river bank. '.repeat(12);
    const req = { model: 'tiny', temperature: 0, max_tokens: 2, messages: [{ role: 'user', content: long }] };
    const a = await client.chat.completions.create(req);
    assert.ok(a.usage.prompt_tokens > 64, `prompt_tokens ${a.usage.prompt_tokens}`);
    const b = await client.chat.completions.create(req);
    const cached = b.usage.prompt_tokens_details?.cached_tokens;
    assert.ok(cached > 0, `cached_tokens ${cached} on the second identical request`);
    assert.ok(cached <= b.usage.prompt_tokens);
    assert.equal(b.usage.prompt_tokens, a.usage.prompt_tokens);
  });
});

describe('chat completions: streaming', () => {
  test('chunks: role first, deltas concatenate to the non-streamed reply, usage last', async () => {
    const params = { temperature: 1, seed: 77, max_tokens: 16 };
    const ns = await chat(params);
    const s = await streamChat({ ...params, stream_options: { include_usage: true } });
    assert.ok(s.chunks.length >= 2);
    assert.equal(s.chunks[0].choices[0].delta.role, 'assistant');
    for (const c of s.chunks) {
      assert.equal(c.object, 'chat.completion.chunk');
      assert.equal(c.id, s.chunks[0].id);
    }
    assert.equal(s.text[0], ns.choices[0].message.content);
    assert.equal(s.finish[0], ns.choices[0].finish_reason);
    const last = s.chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.deepEqual(
      { p: last.usage.prompt_tokens, c: last.usage.completion_tokens, t: last.usage.total_tokens },
      { p: ns.usage.prompt_tokens, c: ns.usage.completion_tokens, t: ns.usage.total_tokens },
    );
    for (const c of s.chunks.slice(0, -1)) assert.ok(!c.usage, 'only the last chunk has usage');
  });

  test('raw SSE: text/event-stream, data: lines, ends with data: [DONE]', async () => {
    const r = await fetch(`${server.baseURL}/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny', messages: hello, max_tokens: 4, stream: true }),
    });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/event-stream/);
    const text = await r.text();
    const events = text.split('\n\n').filter((e) => e.trim() !== '');
    assert.equal(events.at(-1).trim(), 'data: [DONE]');
    for (const e of events.slice(0, -1)) {
      assert.ok(e.startsWith('data: '), JSON.stringify(e));
      JSON.parse(e.slice(6));
    }
  });

  test('without include_usage no chunk carries usage', async () => {
    const s = await streamChat({ temperature: 0, max_tokens: 6 });
    for (const c of s.chunks) assert.ok(!c.usage, JSON.stringify(c));
  });

  test('stream n=2 with logprobs', async () => {
    const s = await streamChat({ temperature: 1, seed: 31, n: 2, max_tokens: 6, logprobs: true });
    const ns = await chat({ temperature: 1, seed: 31, n: 2, max_tokens: 6 });
    assert.deepEqual(s.text, ns.choices.map((c) => c.message.content));
    const lp = s.chunks.flatMap((c) => c.choices.filter((ch) => ch.index === 0).flatMap((ch) => ch.logprobs?.content ?? []));
    assert.equal(lp.length, ns.choices[0].finish_reason === 'length' ? 6 : lp.length);
    assert.ok(lp.length > 0, 'streamed logprobs');
  });
});

describe('chat completions: JSON mode', () => {
  test('response_format json_object yields a JSON object', async (t) => {
    for (const seed of [1, 2, 3, 4]) {
      let r;
      try {
        r = await chat({ temperature: 0.8, seed, max_tokens: 200, response_format: { type: 'json_object' },
          messages: [{ role: 'user', content: 'Reply in JSON with a name and an age.' }] });
      } catch (e) {
        if (e.status === 400) return t.todo(`server refuses response_format json_object: ${e.message}`);
        throw e;
      }
      const content = r.choices[0].message.content;
      assert.equal(r.choices[0].finish_reason, 'stop', `seed ${seed}: finish_reason ${r.choices[0].finish_reason}, content ${JSON.stringify(content)}`);
      let v;
      assert.doesNotThrow(() => (v = JSON.parse(content)), `seed ${seed}: not JSON: ${JSON.stringify(content)}`);
      assert.ok(v !== null && typeof v === 'object' && !Array.isArray(v), `seed ${seed}: not an object: ${content}`);
    }
  });

  test('response_format json_object also holds when streamed', async (t) => {
    let s;
    try {
      s = await streamChat({ temperature: 0.8, seed: 2, max_tokens: 200, response_format: { type: 'json_object' } });
    } catch (e) {
      if (e.status === 400) return t.todo(`server refuses response_format json_object: ${e.message}`);
      throw e;
    }
    assert.equal(s.finish[0], 'stop', `content ${JSON.stringify(s.text[0])}`);
    const v = JSON.parse(s.text[0]);
    assert.ok(v !== null && typeof v === 'object' && !Array.isArray(v));
  });

  test('response_format json_schema is refused with 400 naming response_format', async () => {
    const r = await http(server, 'POST', '/v1/chat/completions', { model: 'tiny', messages: hello, max_tokens: 4,
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } } });
    if (r.status === 200) return; // supported: nothing to refuse
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.param, 'response_format');
  });

  test('response_format text is accepted', async () => {
    const r = await chat({ temperature: 0, max_tokens: 4, response_format: { type: 'text' } });
    assert.equal(typeof r.choices[0].message.content, 'string');
  });
});

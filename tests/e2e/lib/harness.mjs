// Test harness for the black-box e2e suite of `citadel serve`: finds the binary and the
// shared reference data, makes the random-weights test model, starts and stops servers, and
// offers small raw-HTTP helpers. Nothing here knows the server's internals.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '..', '..', '..');
export const CITADEL = process.env.CITADEL || path.join(REPO, 'build', 'citadel');
export const SHARED = process.env.SHARED_DIR || path.resolve(REPO, '..', 'shared');
export const QWEN3_TOKENIZER = path.join(SHARED, 'reference', 'tokenizer', 'hf', 'qwen3');
export const STORIES = path.join(SHARED, 'reference', 'models', 'stories260K.gguf');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let checked = false;
// Fails with a clear message when the binary is missing or has no `serve` verb.
export function checkBinary() {
  if (checked) return;
  if (!fs.existsSync(CITADEL)) throw new Error(`citadel binary not found at ${CITADEL} (set CITADEL)`);
  const r = spawnSync(CITADEL, ['serve', '--help'], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`${CITADEL} serve --help failed (exit ${r.status}): ${r.stderr || r.stdout}`);
  }
  if (!fs.existsSync(STORIES)) throw new Error(`reference model not found: ${STORIES} (set SHARED_DIR)`);
  checked = true;
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

// The tiny random-weights Qwen3 model (real Qwen3 tokenizer and chat template). Made once per
// `node --test` run: every test file is a child of the same runner process, so the file is
// cached under a directory named after the runner's pid; directories of finished runs are
// removed.
export function tinyModel() {
  checkBinary();
  const tmp = os.tmpdir();
  for (const d of fs.readdirSync(tmp)) {
    const m = /^citadel-e2e-(\d+)$/.exec(d);
    if (m && Number(m[1]) !== process.ppid && !pidAlive(Number(m[1]))) {
      fs.rmSync(path.join(tmp, d), { recursive: true, force: true });
    }
  }
  const dir = path.join(tmp, `citadel-e2e-${process.ppid}`);
  fs.mkdirSync(dir, { recursive: true });
  // Named after the binary's build time: a rebuilt citadel makes its own model.
  const file = path.join(dir, `tiny-${Math.floor(fs.statSync(CITADEL).mtimeMs)}.gguf`);
  if (fs.existsSync(file)) return file;
  const part = path.join(dir, `tiny.${process.pid}.part.gguf`);
  const r = spawnSync(
    CITADEL,
    ['synth', '--preset', 'tiny-qwen3', '--tokenizer', QWEN3_TOKENIZER, '--type', 'q8_0', '-o', part],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`citadel synth failed (exit ${r.status}): ${r.stderr}`);
  fs.renameSync(part, file); // atomic: a concurrent file sees either nothing or the whole model
  return file;
}

const live = new Set();
process.on('exit', () => {
  for (const p of live) {
    try {
      p.kill('SIGKILL');
    } catch {}
  }
});

export class Server {
  constructor(proc) {
    this.proc = proc;
    this.stderr = '';
    this.stdout = '';
    this.exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        live.delete(proc);
        resolve({ code, signal });
      });
    });
    proc.stderr.on('data', (d) => (this.stderr += d));
    proc.stdout.on('data', (d) => (this.stdout += d));
  }

  get url() {
    return `${this.scheme ?? 'http'}://127.0.0.1:${this.port}`;
  }

  get baseURL() {
    return `${this.url}/v1`;
  }

  get alive() {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  // SIGTERM, then the exit status ({code, signal}); SIGKILL after `killAfterMs`.
  async stop(killAfterMs = 15000) {
    if (!this.alive) return this.exited;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), killAfterMs);
    const r = await this.exited;
    clearTimeout(timer);
    return r;
  }

  tail(n = 2000) {
    return this.stderr.slice(-n);
  }
}

// Default arguments of the suite's server: both models, any free port, small KV.
export function defaultArgs() {
  return [
    '-m', `tiny=${tinyModel()}`,
    '-m', `stories=${STORIES}`,
    '--port', '0', '--host', '127.0.0.1',
    '--kv-mem', '64MiB', '-c', '2048', '-t', '1',
    '--no-auth',
  ];
}

let dataDirs = 0;
// A fresh data directory (key store, audit log) for one server.
export function tempDataDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), `citadel-data-${process.pid}-${dataDirs++}-`));
}

// Starts `citadel serve` with `args` (defaultArgs() plus `extra` unless `replaceArgs`), waits
// for the listening line and then for GET /ready to answer 200 (unless `waitReady: false`).
export async function startServer({ extra = [], args, waitReady = true, timeoutMs = 60000, readyFetch } = {}) {
  checkBinary();
  const argv = ['serve', ...(args ?? [...defaultArgs(), ...extra])];
  if (!argv.includes('--data-dir')) argv.push('--data-dir', tempDataDir());
  const proc = spawn(CITADEL, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  const s = new Server(proc);
  s.argv = argv;
  const deadline = Date.now() + timeoutMs;
  while (s.port === undefined) {
    const m = /listening on (https?):\/\/[^\s:]+:(\d+)/.exec(s.stderr);
    if (m) {
      s.scheme = m[1];
      s.port = Number(m[2]);
    }
    else if (!s.alive) {
      const { code, signal } = await s.exited;
      throw new Error(`citadel serve exited (code ${code}, signal ${signal}) before listening:\n${s.tail()}`);
    } else if (Date.now() > deadline) {
      await s.stop(100);
      throw new Error(`citadel serve did not print its listening line in ${timeoutMs} ms:\n${s.tail()}`);
    } else await sleep(20);
  }
  if (waitReady) {
    for (;;) {
      try {
        const r = await (readyFetch ?? fetch)(`${s.url}/ready`);
        await r.arrayBuffer();
        if (r.status === 200) break;
      } catch {}
      if (!s.alive) throw new Error(`citadel serve exited while loading:\n${s.tail()}`);
      if (Date.now() > deadline) {
        await s.stop(100);
        throw new Error(`GET /ready did not answer 200 in ${timeoutMs} ms:\n${s.tail()}`);
      }
      await sleep(50);
    }
  }
  return s;
}

// fetch + body as text and (when it parses) JSON.
// Stops the server (SIGTERM) and asserts a clean exit: code 0, no signal.
export async function expectCleanExit(server) {
  const { code, signal } = await server.stop();
  assert.equal(signal, null, `server killed by ${signal}`);
  assert.equal(code, 0, `server exit code ${code}\n${server.tail()}`);
}

export async function http(server, method, urlPath, body, { headers = {}, signal = AbortSignal.timeout(60000) } = {}) {
  const init = { method, headers: { ...headers }, signal };
  if (body !== undefined) {
    init.body = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
    if (!init.headers['content-type']) init.headers['content-type'] = 'application/json';
  }
  const r = await fetch(server.url + urlPath, init);
  const text = await r.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: r.status, headers: r.headers, text, json };
}

// Asserts-free check of OpenAI's error shape; returns a description of what is wrong or ''.
export function errorShapeProblem(json) {
  if (!json || typeof json !== 'object') return 'body is not JSON';
  const e = json.error;
  if (!e || typeof e !== 'object') return 'no "error" object';
  for (const k of ['message', 'type', 'param', 'code']) {
    if (!(k in e)) return `error.${k} missing`;
  }
  if (typeof e.message !== 'string' || e.message.length === 0) return 'error.message is not a non-empty string';
  if (typeof e.type !== 'string') return 'error.type is not a string';
  return '';
}

// Sends raw bytes (a Buffer/string, or a list of chunks with delays) on a fresh TCP
// connection and collects what comes back until the server closes or `timeoutMs` passes.
// Returns {data: Buffer, closed: boolean, error: string|null, ms, status}.
export function rawExchange(port, chunks, { timeoutMs = 5000, delayMs = 0, end = false } = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    const sock = net.connect(port, '127.0.0.1');
    const got = [];
    let done = false;
    let error = null;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const data = Buffer.concat(got);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(data.toString('latin1'));
      resolve({ data, closed, error, ms: Date.now() - started, status: m ? Number(m[1]) : null });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on('data', (d) => got.push(d));
    sock.on('error', (e) => {
      error = e.code || e.message;
      finish(true);
    });
    sock.on('close', () => finish(true));
    sock.on('connect', async () => {
      const list = Array.isArray(chunks) ? chunks : [chunks];
      for (let i = 0; i < list.length && !done; i++) {
        if (i > 0 && delayMs > 0) await sleep(delayMs);
        if (done || sock.destroyed) break;
        sock.write(list[i], () => {});
      }
      if (end && !done && !sock.destroyed) sock.end();
    });
  });
}

// Splits a raw HTTP/1.1 response into status, headers (lower-case) and body text.
export function parseRawResponse(buf) {
  const s = buf.toString('utf8');
  const i = s.indexOf('\r\n\r\n');
  if (i < 0) return null;
  const lines = s.slice(0, i).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  const headers = {};
  for (const l of lines.slice(1)) {
    const c = l.indexOf(':');
    if (c > 0) headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
  }
  let body = s.slice(i + 4);
  if ((headers['transfer-encoding'] || '').toLowerCase() === 'chunked') {
    let out = '';
    let rest = body;
    for (;;) {
      const nl = rest.indexOf('\r\n');
      if (nl < 0) break;
      const n = parseInt(rest.slice(0, nl), 16);
      if (!Number.isFinite(n) || n === 0) break;
      out += rest.slice(nl + 2, nl + 2 + n);
      rest = rest.slice(nl + 2 + n + 2);
    }
    body = out;
  }
  let json;
  try {
    json = JSON.parse(body);
  } catch {}
  return { status: m ? Number(m[1]) : null, headers, body, json };
}

// GET /health must answer 200 (used after every robustness case).
export async function healthStatus(server, timeoutMs = 5000) {
  const r = await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(timeoutMs) });
  await r.arrayBuffer();
  return r.status;
}

// Code-point-safe helpers for picking substrings of random-model output.
export const chars = (s) => Array.from(s);

// Helpers for the gateway's e2e tests: API keys through the real `citadel keys` CLI, HS256
// JWTs signed here, a real redis-server, certificates from the openssl CLI, and a request
// helper that sends a credential.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { CITADEL, http, sleep } from './harness.mjs';

// `citadel keys create` with the given flags; returns the printed key.
export function createKey(db, name, flags = []) {
  const r = spawnSync(CITADEL, ['keys', 'create', '--db', db, '--name', name, ...flags], { encoding: 'utf8' });
  assert.equal(r.status, 0, `keys create ${name} failed: ${r.stderr}`);
  const key = r.stdout.trim();
  assert.match(key, /^ck_/, `unexpected key text: ${key}`);
  return key;
}

export function keysCli(db, args) {
  return spawnSync(CITADEL, ['keys', ...args, '--db', db], { encoding: 'utf8' });
}

const b64url = (b) => Buffer.from(b).toString('base64url');

// An HS256 JWT over `payload` (iat/exp defaults filled in).
export function signJwt(secret, payload, { alg = 'HS256', tamper = false } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg, typ: 'JWT' }));
  const body = b64url(JSON.stringify({ iat: now, exp: now + 3600, ...payload }));
  let sig = b64url(crypto.createHmac('sha256', secret).update(`${header}.${body}`).digest());
  if (tamper) sig = sig.slice(0, -2) + (sig.endsWith('AA') ? 'BB' : 'AA');
  return `${header}.${body}.${sig}`;
}

// fetch with `Authorization: Bearer <cred>` when `cred` is given.
export function call(server, method, urlPath, body, cred, headers = {}) {
  const h = { ...headers };
  if (cred) h.authorization = `Bearer ${cred}`;
  return http(server, method, urlPath, body, { headers: h });
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

// A real redis-server on a free port, in its own directory; stop() kills it.
export async function startRedis(dir) {
  const bin = ['/usr/bin/redis-server', '/usr/sbin/redis-server'].find((p) => fs.existsSync(p));
  if (!bin) throw new Error('redis-server is not installed: run scripts/bootstrap.sh');
  const port = await freePort();
  const proc = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  const deadline = Date.now() + 10000;
  while (!/Ready to accept connections/.test(out)) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited: ${out}`);
    if (Date.now() > deadline) throw new Error(`redis-server did not start: ${out}`);
    await sleep(20);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () => new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.on('exit', resolve);
      proc.kill('SIGKILL');
    }),
  };
}

function openssl(args, cwd) {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  assert.equal(r.status, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
}

// A CA, a server certificate for 127.0.0.1/localhost, and a client certificate (CN=client-a),
// as PEM files in `dir`.
export function makeCerts(dir) {
  const ext = path.join(dir, 'server.ext');
  fs.writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', '/CN=Citadel Test CA', '-keyout', 'ca.key', '-out', 'ca.pem'], dir);
  for (const [name, cn, extra] of [['server', '127.0.0.1', ['-extfile', ext]], ['client', 'client-a', []]]) {
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${cn}`,
      '-keyout', `${name}.key`, '-out', `${name}.csr`], dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
      '-days', '2', '-out', `${name}.pem`, ...extra], dir);
  }
  const f = (n) => path.join(dir, n);
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key'), clientCert: f('client.pem'), clientKey: f('client.key') };
}

// Prometheus text -> Map of 'name{labels}' (labels as written) -> value.
export function parseMetrics(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

// Sum of a Prometheus counter over its labels.
export function metricSum(text, name) {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(name + '{') || line.startsWith(name + ' ')) sum += Number(line.split(' ').pop());
  }
  return sum;
}

// promtool's verdict: exit 0, or exit 3 (lint) where the only finding is the ':' in names,
// which vLLM's names (kept on purpose) all have.
export function promtoolProblems(text) {
  const which = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  if (which.status !== 0) {
    throw new Error("promtool is missing: install Debian's 'prometheus' package (scripts/bootstrap.sh)");
  }
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  const lines = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim());
  if (r.status !== 0 && r.status !== 3) return [`promtool exit ${r.status}`, ...lines];
  return lines.filter((l) => !l.includes("metric names should not contain ':'"));
}

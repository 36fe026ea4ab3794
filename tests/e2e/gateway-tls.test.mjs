// TLS on a real server: HTTPS with a test CA, client certificates mapped to identities (mTLS),
// plain HTTP to the TLS port failing cleanly, and certificates reloaded on SIGHUP.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sleep, startServer, tempDataDir, tinyModel, expectCleanExit } from './lib/harness.mjs';
import { createKey, makeCerts } from './lib/gateway.mjs';

// GET/POST over HTTPS trusting `ca`, optionally with a client certificate.
function httpsRequest(url, { ca, cert, key, headers = {}, method = 'GET', body } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, ca, cert, key, headers, agent: false, timeout: 10000 }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, text, peer: res.socket.getPeerCertificate?.(), protocol: res.socket.getProtocol?.() }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    if (body) req.end(body);
    else req.end();
  });
}

describe('gateway: TLS', () => {
  let server, dir, certs, ca, apiKey;
  before(async () => {
    dir = tempDataDir();
    certs = makeCerts(dir);
    ca = fs.readFileSync(certs.ca);
    apiKey = createKey(path.join(dir, 'keys.db'), 'tls-user', ['--role', 'user']);
    const cfg = path.join(dir, 'citadel.yaml');
    fs.writeFileSync(cfg, 'gateway:\n  mtls-identities:\n    client-a: {role: viewer}\n');
    const readyFetch = async (url) => {
      const r = await httpsRequest(url, { ca });
      return { status: r.status, arrayBuffer: async () => {} };
    };
    server = await startServer({
      args: ['-m', `tiny=${tinyModel()}`, '--port', '0', '--host', '127.0.0.1', '--kv-mem', '64MiB', '-t', '1',
        '--data-dir', dir, '--config', cfg, '--tls-cert', certs.cert, '--tls-key', certs.key, '--tls-client-ca', certs.ca],
      readyFetch,
    });
    assert.equal(server.scheme, 'https');
  });
  after(async () => {
    if (server) await expectCleanExit(server);
  });

  test('HTTPS with an API key; TLS 1.2 or newer', async () => {
    const r = await httpsRequest(`${server.url}/v1/models`, { ca, headers: { authorization: `Bearer ${apiKey}` } });
    assert.equal(r.status, 200, r.text);
    assert.match(r.protocol, /^TLSv1\.[23]$/);
    const none = await httpsRequest(`${server.url}/v1/models`, { ca });
    assert.equal(none.status, 401);
  });

  test('a client certificate maps to its configured identity', async () => {
    const cert = fs.readFileSync(certs.clientCert), key = fs.readFileSync(certs.clientKey);
    const r = await httpsRequest(`${server.url}/v1/models`, { ca, cert, key });
    assert.equal(r.status, 200, r.text);
    const chat = await httpsRequest(`${server.url}/v1/chat/completions`, {
      ca, cert, key, method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }),
    });
    assert.equal(chat.status, 403, 'client-a is a viewer');
  });

  test('plain HTTP to the TLS port fails cleanly and quickly', async () => {
    const t0 = Date.now();
    const answer = await new Promise((resolve) => {
      const sock = net.connect(server.port, '127.0.0.1', () => sock.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'));
      let data = '';
      sock.on('data', (d) => (data += d));
      sock.on('close', () => resolve(data));
      sock.on('error', () => resolve(data));
      sock.setTimeout(5000, () => sock.destroy());
    });
    assert.ok(Date.now() - t0 < 4000, 'closed promptly');
    assert.match(answer, /^HTTP\/1\.1 400/);
    assert.match(answer, /HTTPS/);
    const still = await httpsRequest(`${server.url}/health`, { ca });
    assert.equal(still.status, 200, 'the server is unharmed');
  });

  test('SIGHUP reloads the certificate', async () => {
    const before = await httpsRequest(`${server.url}/health`, { ca });
    const oldSerial = before.peer.serialNumber;
    // A new server certificate from the same CA, written over the old files.
    const fresh = path.join(dir, 'fresh');
    fs.mkdirSync(fresh);
    for (const f of ['ca.pem', 'ca.key']) fs.copyFileSync(path.join(dir, f), path.join(fresh, f));
    const { spawnSync } = await import('node:child_process');
    fs.writeFileSync(path.join(fresh, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
    for (const args of [
      ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr'],
      ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', 'server.pem', '-extfile', 'server.ext'],
    ]) assert.equal(spawnSync('openssl', args, { cwd: fresh }).status, 0);
    fs.copyFileSync(path.join(fresh, 'server.key'), certs.key);
    fs.copyFileSync(path.join(fresh, 'server.pem'), certs.cert);
    server.proc.kill('SIGHUP');
    const deadline = Date.now() + 5000;
    let serial = oldSerial;
    while (serial === oldSerial && Date.now() < deadline) {
      await sleep(100);
      serial = (await httpsRequest(`${server.url}/health`, { ca })).peer.serialNumber;
    }
    assert.notEqual(serial, oldSerial, 'new connections get the new certificate');
    assert.ok(server.alive);
  });
});

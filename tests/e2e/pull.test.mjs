// citadel pull against a local HTTP server: redirects, a download that breaks off and is
// resumed with a Range request, checksums (given, and from X-Linked-Etag as Hugging Face
// sends it), and refusals (wrong checksum, not a GGUF file, HTTP errors).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CITADEL, STORIES, expectCleanExit, http as call, startServer, tempDataDir } from './lib/harness.mjs';

const body = fs.readFileSync(STORIES);
const sha = crypto.createHash('sha256').update(body).digest('hex');

function pull(args) {
  return new Promise((resolve) => {
    // spawnSync would block the test server in this same process: run it asynchronously.
    import('node:child_process').then(({ spawn }) => {
      const p = spawn(CITADEL, ['pull', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '', err = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (err += d));
      p.on('exit', (code) => resolve({ code, out, err }));
    });
  });
}

describe('citadel pull', () => {
  let server, base, requests = [], breakNext = false;
  before(async () => {
    server = http.createServer((req, res) => {
      requests.push({ url: req.url, range: req.headers.range, auth: req.headers.authorization });
      if (req.url.startsWith('/redirect/')) {
        res.writeHead(302, { location: '/files/' + req.url.slice('/redirect/'.length), 'x-linked-etag': `"${sha}"` });
        return res.end();
      }
      if (req.url === '/files/notgguf.gguf') return res.end('<html>login page</html>');
      if (!req.url.startsWith('/files/')) { res.writeHead(404); return res.end('no'); }
      let start = 0;
      const m = /bytes=(\d+)-/.exec(req.headers.range ?? '');
      if (m) start = Number(m[1]);
      const headers = { 'content-length': body.length - start, 'accept-ranges': 'bytes' };
      if (m) headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
      res.writeHead(m ? 206 : 200, headers);
      if (breakNext) {
        breakNext = false;
        res.write(body.subarray(start, start + Math.floor((body.length - start) / 2)));
        setTimeout(() => res.socket.destroy(), 50);
        return;
      }
      res.end(body.subarray(start));
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${server.address().port}`;
  });
  after(() => server?.close());

  test('a broken download resumes where it stopped and is verified', async () => {
    const dir = tempDataDir();
    breakNext = true;
    const first = await pull([`${base}/files/model.gguf`, '--dir', dir, '--sha256', sha]);
    assert.equal(first.code, 1, first.err);
    assert.match(first.err, /broke off.*resume/);
    assert.ok(fs.existsSync(path.join(dir, 'model.gguf.part')));
    const second = await pull([`${base}/files/model.gguf`, '--dir', dir, '--sha256', sha]);
    assert.equal(second.code, 0, second.err);
    assert.match(requests.at(-1).range, /^bytes=\d+-$/);
    assert.match(second.err, /resumed after/);
    assert.match(second.err, /verified/);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'model.gguf')), body);
    assert.equal(second.out.trim(), path.join(dir, 'model.gguf'));
  });

  test('redirects are followed and X-Linked-Etag is the checksum', async () => {
    const dir = tempDataDir();
    const r = await pull([`${base}/redirect/other.gguf`, '--dir', dir, '--token', 'secret-token']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /verified/);
    assert.equal(requests.at(-2).auth, 'Bearer secret-token');
    assert.ok(fs.existsSync(path.join(dir, 'other.gguf')));
  });

  test('a wrong checksum, a non-GGUF answer and HTTP errors are refused and leave nothing', async () => {
    const dir = tempDataDir();
    const bad = await pull([`${base}/files/x.gguf`, '--dir', dir, '--sha256', '0'.repeat(64)]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /checksum mismatch/);
    const html = await pull([`${base}/files/notgguf.gguf`, '--dir', dir]);
    assert.equal(html.code, 1);
    assert.match(html.err, /not a GGUF file/);
    const missing = await pull([`${base}/nothing/y.gguf`, '--dir', dir]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /HTTP 404/);
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.gguf')), []);
    const s3 = await pull(['s3://bucket/z.gguf', '--dir', dir]);
    assert.match(s3.err, /--s3-endpoint/);
    const viaS3 = await pull(['s3://files/model.gguf', '--dir', dir, '--s3-endpoint', base, '--sha256', sha]);
    assert.equal(viaS3.code, 0, viaS3.err);
  });

  test('serve: a model declared by url downloads at start, then serves', async () => {
    const data = tempDataDir();
    const cfg = path.join(data, 'citadel.yaml');
    fs.writeFileSync(cfg, `models:\n  stories:\n    url: ${base}/files/stories.gguf\n    sha256: ${sha}\n    ctx: 128\n`);
    const s = await startServer({ args: ['--config', cfg, '--port', '0', '--host', '127.0.0.1', '--kv-mem', '16MiB',
      '-t', '1', '--no-auth', '--data-dir', data] });
    try {
      assert.deepEqual(fs.readFileSync(path.join(data, 'models', 'stories.gguf')), body);
      const r = await call(s, 'POST', '/v1/completions', { model: 'stories', prompt: 'Once upon', max_tokens: 3 });
      assert.equal(r.status, 200, r.text);
      assert.match(s.stderr, /downloading .*stories\.gguf/);
    } finally {
      await expectCleanExit(s);
    }
  });

  test('serve: a url model whose checksum does not match stops the server, saying so', async () => {
    const data = tempDataDir();
    const cfg = path.join(data, 'citadel.yaml');
    fs.writeFileSync(cfg, `models:\n  stories:\n    url: ${base}/files/bad.gguf\n    sha256: ${'0'.repeat(64)}\n`);
    const s = await startServer({ args: ['--config', cfg, '--port', '0', '--host', '127.0.0.1', '--no-auth',
      '--data-dir', data], waitReady: false });
    const { code } = await s.exited;
    assert.equal(code, 1);
    assert.match(s.stderr, /stories.*download failed.*checksum mismatch/);
    assert.ok(!fs.existsSync(path.join(data, 'models', 'bad.gguf')));
  });
});

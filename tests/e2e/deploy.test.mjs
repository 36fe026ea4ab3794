// deploy/: the alert rules pass `promtool check rules`, and every metric the rules and the
// Grafana dashboard query is one that a running `citadel serve` exports.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO, startServer, tempDataDir, tinyModel, expectCleanExit, http } from './lib/harness.mjs';

const RULES = path.join(REPO, 'deploy', 'prometheus', 'citadel-alerts.yml');
const DASHBOARD = path.join(REPO, 'deploy', 'grafana', 'citadel-dashboard.json');

function promtool() {
  const bin = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => fs.existsSync(p));
  if (!bin) throw new Error('promtool not found: run scripts/bootstrap.sh (Debian package prometheus)');
  return bin;
}

// Metric families named in PromQL text: citadel:* and process_* (histograms by their base name).
function metricNames(text) {
  const names = new Set();
  for (const m of text.matchAll(/\b(citadel:[a-z0-9_]+|process_[a-z0-9_]+)/g)) names.add(m[1].replace(/_bucket$/, ''));
  return names;
}

describe('deploy: alert rules and dashboard', () => {
  let server;
  before(async () => {
    server = await startServer({ args: ['-m', `tiny=${tinyModel()}`, '--port', '0', '--kv-mem', '32MiB', '-t', '1',
      '--no-auth', '--public-metrics', '--data-dir', tempDataDir()] });
    await http(server, 'POST', '/v1/chat/completions', { model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
  });
  after(async () => {
    if (server) await expectCleanExit(server);
  });

  test('promtool accepts the rules', () => {
    const r = spawnSync(promtool(), ['check', 'rules', RULES], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  test('the dashboard is valid JSON and every metric it or the rules query is exported', async () => {
    const dash = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8'));
    assert.ok(dash.panels.length >= 8);
    const exprs = dash.panels.flatMap((p) => p.targets.map((t) => t.expr)).join('\n');
    const wanted = new Set([...metricNames(exprs), ...metricNames(fs.readFileSync(RULES, 'utf8'))]);
    const scrape = (await http(server, 'GET', '/metrics')).text;
    const exported = new Set([...scrape.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]));
    const missing = [...wanted].filter((n) => !exported.has(n));
    assert.deepEqual(missing, [], `queried but not exported: ${missing.join(', ')}`);
  });
});

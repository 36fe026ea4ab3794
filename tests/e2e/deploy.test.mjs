// `citadel deploy`: every output passes its validator, the Helm chart renders to the raw
// manifests' objects, the project's deploy/ folder is what the command in deploy/README.md
// makes, the generated serve arguments start a real server, and every metric the rules and
// the dashboard query is one a running `citadel serve` exports.
//
// Validators: kubernetes-models (JSON schemas of Kubernetes 1.27 and the Prometheus Operator,
// plus a check that no field is unknown to the schema), a Go renderer of the Helm chart
// (tests/deploy/helmrender: text/template + Sprig, as Helm), yamllint, promtool check rules,
// dockerfile-ast, systemd-analyze verify.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { DockerfileParser } from 'dockerfile-ast';
import * as core from 'kubernetes-models/v1';
import * as apps from 'kubernetes-models/apps/v1';
import * as autoscaling from 'kubernetes-models/autoscaling/v2';
import * as policy from 'kubernetes-models/policy/v1';
import * as networking from 'kubernetes-models/networking.k8s.io/v1';
import * as monitoring from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { CITADEL, REPO, checkBinary, expectCleanExit, http, startServer, tempDataDir, tinyModel } from './lib/harness.mjs';

const DEPLOY = path.join(REPO, 'deploy');
const MODELS = {
  v1: core, 'apps/v1': apps, 'autoscaling/v2': autoscaling, 'policy/v1': policy,
  'networking.k8s.io/v1': networking, 'monitoring.coreos.com/v1': monitoring,
};
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'citadel-deploy-'));

function deploy(args) {
  return spawnSync(CITADEL, ['deploy', ...args], { encoding: 'utf8' });
}

function generate(name, args) {
  const out = path.join(tmp, name);
  const r = deploy([...args, '--out', out]);
  assert.equal(r.status, 0, `citadel deploy ${args.join(' ')}:\n${r.stderr}`);
  return out;
}

function walk(dir, rel = '') {
  return fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const p = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() ? walk(dir, p) : [p];
  }).sort();
}

const isYaml = (p) => /\.ya?ml$/.test(p) && !p.includes('/templates/');
const read = (dir, p) => fs.readFileSync(path.join(dir, p), 'utf8');

// The command deploy/README.md documents (its indented line), as argv without `citadel deploy`.
function documentedCommand() {
  const line = read(DEPLOY, 'README.md').split('\n').find((l) => l.startsWith('    citadel deploy '));
  assert.ok(line, 'deploy/README.md lists no `    citadel deploy ...` line');
  return line.trim().split(/\s+/).slice(2);
}

// Validates one Kubernetes object with kubernetes-models, then reports any field the schema
// does not know (the models' validators ignore unknown fields; a Proxy sees which they read).
function validateObject(obj, where) {
  const group = MODELS[obj.apiVersion];
  assert.ok(group, `${where}: no model for apiVersion ${obj.apiVersion}`);
  const Model = group[obj.kind];
  assert.ok(Model, `${where}: no model for ${obj.apiVersion} ${obj.kind}`);
  const model = new Model(obj);
  try {
    model.validate();
  } catch (e) {
    assert.fail(`${where}: ${obj.kind} ${obj.metadata?.name} fails its schema: ${e.message}`);
  }
  const seen = [];
  const track = (v, at) => {
    if (v === null || typeof v !== 'object') return v;
    const readKeys = new Set();
    seen.push({ at, v, readKeys });
    const copy = Array.isArray(v) ? v.map((x, i) => track(x, `${at}[${i}]`))
      : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, track(x, `${at}.${k}`)]));
    return new Proxy(copy, { get(t, k, r) { if (typeof k === 'string') readKeys.add(k); return Reflect.get(t, k, r); } });
  };
  Model.prototype.validate.call(track(model.toJSON(), ''));
  const unknown = seen.filter((s) => !Array.isArray(s.v))
    .flatMap((s) => Object.keys(s.v).filter((k) => !s.readKeys.has(k)).map((k) => `${s.at}.${k}`));
  assert.deepEqual(unknown, [], `${where}: ${obj.kind} has fields its schema does not know`);
}

function yamlDocs(text, where) {
  const docs = parseAllDocuments(text);
  for (const d of docs) assert.deepEqual(d.errors, [], `${where}: ${d.errors.join('; ')}`);
  return docs.map((d) => d.toJS()).filter((d) => d !== null);
}

function manifests(dir, sub = 'kubernetes') {
  return walk(path.join(dir, sub)).flatMap((p) => yamlDocs(read(path.join(dir, sub), p), p)
    .map((obj) => ({ file: `${sub}/${p}`, obj })));
}

let helmBinary;
function helmRender(chartDir, release, extraValues) {
  if (!helmBinary) {
    helmBinary = path.join(tmp, 'helmrender');
    const env = { ...process.env, GOPATH: '/usr/share/gocode', GO111MODULE: 'off', GOFLAGS: '',
      GOCACHE: path.join(tmp, 'gocache') };
    const r = spawnSync('go', ['build', '-o', helmBinary, '.'],
      { cwd: path.join(REPO, 'tests', 'deploy', 'helmrender'), env, encoding: 'utf8' });
    if (r.error) throw new Error('go not found: run scripts/bootstrap.sh (golang-go, golang-github-masterminds-sprig-dev)');
    assert.equal(r.status, 0, `building tests/deploy/helmrender:\n${r.stderr}`);
  }
  const args = ['-chart', chartDir, '-release', release, '-namespace', 'llm'];
  if (extraValues) {
    const f = path.join(tmp, `values-${Math.random().toString(36).slice(2)}.yaml`);
    fs.writeFileSync(f, extraValues);
    args.push('-f', f);
  }
  const r = spawnSync(helmBinary, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `rendering ${chartDir}:\n${r.stderr}`);
  return r.stdout;
}

// Labels only Helm adds; everything else must match the raw manifests.
function withoutHelmLabels(obj) {
  const o = structuredClone(obj);
  delete o.metadata.labels['helm.sh/chart'];
  delete o.metadata.labels['app.kubernetes.io/managed-by'];
  return o;
}

function tool(candidates, pkg) {
  const bin = candidates.find((p) => fs.existsSync(p));
  if (!bin) throw new Error(`${path.basename(candidates[0])} not found: run scripts/bootstrap.sh (Debian package ${pkg})`);
  return bin;
}

describe('citadel deploy', () => {
  let plain, full;
  before(() => {
    checkBinary();
    plain = generate('plain', documentedCommand());
    full = generate('full', ['--target', 'all', '--model', `tiny=${tinyModel()}`, '--model', 'other.gguf',
      '--replicas', '2', '--max-replicas', '5', '--tls', '--gpu', 'nvidia-l4', '--egress', '10.0.0.0/8',
      '--name', 'llm', '--image', 'registry.example/citadel:1.2', '--cpus', '1500m',
      '--plan-model', 'qwen2.5-0.5b', '--quant', 'q8_0', '--ctx', '4096', '--seqs', '4',
      '--systemd-binary', path.resolve(CITADEL)]);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('deploy/ is what the command in deploy/README.md generates', () => {
    const how = `regenerate it: make deploy-files (${['citadel deploy', ...documentedCommand()].join(' ')} --out deploy --force)`;
    assert.deepEqual(walk(DEPLOY), walk(plain), `deploy/ holds other files than the command makes; ${how}`);
    for (const p of walk(plain)) assert.ok(read(DEPLOY, p) === read(plain, p), `deploy/${p} is out of date; ${how}`);
  });

  test('every Kubernetes manifest passes its schema', () => {
    for (const dir of [plain, full]) {
      const objs = manifests(dir);
      const kinds = objs.map((o) => o.obj.kind).sort();
      for (const k of ['Deployment', 'HorizontalPodAutoscaler', 'NetworkPolicy', 'PersistentVolumeClaim',
        'PodDisruptionBudget', 'Secret', 'Service', 'ServiceMonitor']) assert.ok(kinds.includes(k), `no ${k} in ${kinds}`);
      for (const { file, obj } of objs) validateObject(obj, file);
    }
  });

  test('the schema check catches a bad manifest', () => {
    const dep = parseYaml(read(plain, 'kubernetes/deployment.yaml'));
    dep.spec.template.spec.containers[0].livenesProbe = {};
    assert.throws(() => validateObject(dep, 'typo'), /livenesProbe/);
    const hpa = parseYaml(read(plain, 'kubernetes/hpa.yaml'));
    hpa.spec.maxReplicas = 'many';
    assert.throws(() => validateObject(hpa, 'type'), /maxReplicas/);
  });

  test('the deployments are locked down, probed, sized and scaled on waiting requests', () => {
    const objs = Object.fromEntries(manifests(full).map((o) => [o.file, o.obj]));
    const pod = objs['kubernetes/deployment.yaml'].spec.template.spec;
    const c = pod.containers[0];
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
    assert.equal(c.livenessProbe.httpGet.path, '/health');
    assert.equal(c.readinessProbe.httpGet.path, '/ready');
    assert.equal(c.readinessProbe.httpGet.scheme, 'HTTPS');
    assert.equal(c.resources.limits['nvidia.com/gpu'], '1');
    assert.equal(c.resources.requests.cpu, '1500m');
    assert.ok(pod.volumes.some((v) => v.secret?.secretName === 'llm-tls'));
    const hpa = objs['kubernetes/hpa.yaml'];
    assert.equal(hpa.spec.metrics[0].pods.metric.name, 'citadel_num_requests_waiting');
    assert.equal(hpa.spec.maxReplicas, 5);
    assert.equal(hpa.spec.minReplicas, 2);
    assert.equal(objs['kubernetes/deployment.yaml'].spec.replicas, undefined, 'the autoscaler owns the replica count');
    assert.equal(objs['kubernetes/secret-tls.yaml'].type, 'kubernetes.io/tls');
    const np = objs['kubernetes/networkpolicy.yaml'];
    assert.deepEqual(np.spec.egress[1].to[0].ipBlock, { cidr: '10.0.0.0/8' });
    const adapter = parseYaml(read(full, 'prometheus/adapter-values.yaml'));
    assert.match('citadel:num_requests_waiting', new RegExp(adapter.rules.custom[0].name.matches));
  });

  test('the Helm chart renders to the raw manifests, and every object passes its schema', () => {
    for (const [dir, name] of [[plain, 'citadel'], [full, 'llm']]) {
      const rendered = yamlDocs(helmRender(path.join(dir, 'helm', name), name), `helm ${name}`);
      const raw = manifests(dir).filter((o) => !o.file.includes('/optional/')).map((o) => o.obj);
      const key = (o) => `${o.kind}/${o.metadata.name}`;
      assert.deepEqual(rendered.map(key).sort(), raw.map(key).sort());
      for (const obj of rendered) {
        validateObject(obj, `helm ${name}`);
        assert.deepEqual(withoutHelmLabels(obj), raw.find((r) => key(r) === key(obj)), `helm ${name}: ${key(obj)} differs from kubernetes/`);
      }
      const monitored = yamlDocs(helmRender(path.join(dir, 'helm', name), name,
        'serviceMonitor:\n  enabled: true\nmodelsVolume:\n  existingClaim: models\nnetworkPolicy:\n  enabled: false\n'), 'helm values');
      for (const obj of monitored) validateObject(obj, `helm ${name} (serviceMonitor)`);
      const kinds = monitored.map((o) => o.kind);
      assert.ok(kinds.includes('ServiceMonitor') && !kinds.includes('NetworkPolicy') && !kinds.includes('PersistentVolumeClaim'), kinds.join());
      const dep = monitored.find((o) => o.kind === 'Deployment');
      assert.equal(dep.spec.template.spec.volumes[0].persistentVolumeClaim.claimName, 'models');
      const fixed = yamlDocs(helmRender(path.join(dir, 'helm', name), name, 'autoscaling:\n  enabled: false\n'), 'helm values');
      assert.ok(!fixed.some((o) => o.kind === 'HorizontalPodAutoscaler'));
      assert.equal(fixed.find((o) => o.kind === 'Deployment').spec.replicas, 2);
    }
  });

  test('yamllint passes every YAML file and the rendered chart', () => {
    const yamllint = tool(['/usr/bin/yamllint', '/usr/local/bin/yamllint'], 'yamllint');
    for (const [dir, name] of [[plain, 'citadel'], [full, 'llm']]) {
      fs.writeFileSync(path.join(tmp, `${name}-rendered.yaml`), helmRender(path.join(dir, 'helm', name), name));
      const files = [...walk(dir).filter(isYaml).map((p) => path.join(dir, p)), path.join(tmp, `${name}-rendered.yaml`)];
      const r = spawnSync(yamllint, ['--strict', '-f', 'parsable', '-d',
        '{extends: relaxed, rules: {line-length: {max: 150}}}', ...files], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stdout + r.stderr);
    }
  });

  test('promtool accepts the alert rules', () => {
    const promtool = tool(['/usr/bin/promtool', '/usr/local/bin/promtool'], 'prometheus');
    for (const dir of [plain, full]) {
      const r = spawnSync(promtool, ['check', 'rules', path.join(dir, 'prometheus', 'citadel-alerts.yml')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stdout + r.stderr);
    }
  });

  test('the Dockerfile is multi-stage, runs as a non-root user and has a HEALTHCHECK', () => {
    const df = DockerfileParser.parse(read(plain, 'Dockerfile'));
    const ins = df.getInstructions();
    const names = ins.map((i) => i.getKeyword());
    const froms = ins.map((x, i) => [x, i]).filter(([x]) => x.getKeyword() === 'FROM');
    assert.ok(froms.length >= 2, `FROM ${froms.length} times`);
    const finalStage = ins.slice(froms.at(-1)[1]);
    const user = finalStage.filter((i) => i.getKeyword() === 'USER').at(-1);
    assert.ok(user, 'no USER in the final stage');
    assert.ok(!/^(root|0)(:|$)/.test(user.getArgumentsContent()), `USER ${user.getArgumentsContent()}`);
    assert.ok(finalStage.some((i) => i.getKeyword() === 'HEALTHCHECK' && /\/health/.test(i.getArgumentsContent())));
    assert.ok(finalStage.some((i) => i.getKeyword() === 'COPY' && /--from=build/.test(i.getTextContent())));
    for (const k of ['EXPOSE', 'VOLUME', 'ENTRYPOINT']) assert.ok(names.includes(k), `no ${k}`);
    const known = ['FROM', 'RUN', 'WORKDIR', 'COPY', 'USER', 'EXPOSE', 'VOLUME', 'HEALTHCHECK', 'ENTRYPOINT', 'CMD'];
    for (const k of names) assert.ok(known.includes(k), `unexpected instruction ${k}`);
    // Every package the build stage installs is one scripts/bootstrap.sh installs too.
    const bootstrap = fs.readFileSync(path.join(REPO, 'scripts', 'bootstrap.sh'), 'utf8');
    const buildRun = ins.slice(0, froms[1][1]).find((i) => i.getKeyword() === 'RUN').getArgumentsContent();
    for (const pkg of buildRun.split(/[\s\\]+/).filter((w) => /^lib.*-dev$/.test(w))) assert.ok(bootstrap.includes(pkg), `${pkg} is not in bootstrap.sh`);
  });

  test('docker-compose has the service, volumes, secrets and TLS', () => {
    const plainCompose = parseYaml(read(plain, 'compose/docker-compose.yml'));
    const compose = parseYaml(read(full, 'compose/docker-compose.yml'));
    for (const c of [plainCompose, compose]) {
      const s = c.services.citadel;
      assert.ok(s.image && Array.isArray(s.command) && s.command[0] === 'serve');
      assert.ok(s.volumes.includes('./models:/models:ro'));
      assert.ok(s.volumes.some((v) => v.startsWith('data:/data')) && 'data' in c.volumes);
      assert.equal(s.read_only, true);
      assert.deepEqual(s.cap_drop, ['ALL']);
      assert.notEqual(s.user.split(':')[0], '0');
      for (const name of s.secrets) assert.ok(c.secrets[name]?.file, `secret ${name} is not declared`);
      assert.ok(s.healthcheck.test.join(' ').includes('/health'));
    }
    const s = compose.services.citadel;
    assert.ok(s.command.includes('--tls-cert') && s.secrets.includes('tls_cert') && s.secrets.includes('tls_key'));
    assert.ok(s.healthcheck.test.join(' ').includes('https://'));
    assert.equal(s.deploy.replicas, 2);
    assert.equal(s.deploy.resources.reservations.devices[0].capabilities[0], 'gpu');
  });

  test('the systemd unit passes systemd-analyze verify and is hardened', () => {
    const unit = read(full, 'systemd/llm.service');
    const sections = {};
    let current;
    for (const line of unit.replace(/\\\n\s*/g, ' ').split('\n')) {
      const m = /^\[(\w+)\]$/.exec(line);
      if (m) current = sections[m[1]] = {};
      else if (current && /^\w+=/.test(line)) current[line.split('=')[0]] = line.slice(line.indexOf('=') + 1);
    }
    assert.deepEqual(Object.keys(sections), ['Unit', 'Service', 'Install']);
    const svc = sections.Service;
    for (const [k, v] of Object.entries({ NoNewPrivileges: 'yes', ProtectSystem: 'strict', ProtectHome: 'yes',
      PrivateTmp: 'yes', RestrictSUIDSGID: 'yes', CapabilityBoundingSet: '', User: 'citadel' })) assert.equal(svc[k], v, k);
    assert.match(svc.ExecStart, /serve .*--tls-cert \$\{CREDENTIALS_DIRECTORY\}\/tls\.crt/);
    const analyze = tool(['/usr/bin/systemd-analyze', '/bin/systemd-analyze'], 'systemd');
    const r = spawnSync(analyze, ['verify', path.join(full, 'systemd', 'llm.service')], { encoding: 'utf8' });
    // verify exits 0 on unknown keys but prints them: nothing printed is the pass.
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', r.stderr);
  });

  test('bad input: clear errors, exit 1, nothing written', () => {
    const out = path.join(tmp, 'bad');
    const cases = [
      [['--target', 'k8s', '--model', 'a.gguf', '--out', out], /--target: 'k8s' is not one of/],
      [['--target', 'all', '--model', 'a.gguf', '--memory', 'lots', '--out', out], /--memory: 'lots' is not a memory size/],
      [['--target', 'all', '--model', 'a.gguf', '--replicas', '3', '--min-replicas', '4', '--out', out], /--min-replicas/],
      [['--target', 'all', '--model', 'bad name=a.gguf', '--out', out], /--model: name 'bad name'/],
      [['--target', 'all', '--model', 'a.gguf', '--name', 'Bad_Name', '--out', out], /--name: 'Bad_Name'/],
      [['--target', 'all', '--model', 'a.gguf', '--egress', '10.0.0.0', '--out', out], /--egress: '10.0.0.0' is not a CIDR/],
      [['--target', 'all', '--model', 'a.gguf', '--gpu', 'h100 x', '--out', out], /--gpu: 'h100 x'/],
      [['--target', 'all', '--model', 'q=/tmp/a\nb/q.gguf', '--out', out], /control character/],
      [['--target', 'all', '--model', 'a.gguf', '--port', '0', '--out', out], /--port: expected 1 to 65535/],
      [['--target', 'all', '--out', out], /--model is required/],
    ];
    for (const [args, want] of cases) {
      const r = deploy(args);
      assert.equal(r.status, r.stderr.includes('is required') ? 106 : 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, want);
      assert.ok(!fs.existsSync(out), `${args.join(' ')} wrote ${out}`);
    }
    const r = deploy([...documentedCommand(), '--out', plain]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /not empty; pass --force/);
  });

  test('the generated serve arguments start a real server', async () => {
    const dep = parseYaml(read(full, 'kubernetes/deployment.yaml'));
    const secretFile = path.join(tmp, 'jwt-secret');
    fs.writeFileSync(secretFile, 'a'.repeat(64), { mode: 0o600 });
    const cert = path.join(tmp, 'tls.crt'), key = path.join(tmp, 'tls.key');
    const ssl = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
      '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { encoding: 'utf8' });
    assert.equal(ssl.status, 0, ssl.stderr);
    const local = {
      '/etc/citadel/auth/jwt-secret': secretFile, '/etc/citadel/tls/tls.crt': cert, '/etc/citadel/tls/tls.key': key,
      '/data': tempDataDir(), '0.0.0.0': '127.0.0.1', 8080: '0',
    };
    const args = dep.spec.template.spec.containers[0].args.slice(1)
      .map((a) => local[a] ?? a.replace(/=\/models\/.*$/, `=${tinyModel()}`))
      .filter((a, i, all) => !(a === '-m' && all[i + 1].startsWith('other=')) && !a.startsWith('other='));
    // The planned KV cache and context are for a real model: this machine runs the tiny one.
    for (const [flag, value] of [['--kv-mem', '32MiB'], ['--ctx', '256']]) {
      const at = args.indexOf(flag);
      assert.ok(at > 0, `the serve arguments have no ${flag}`);
      args[at + 1] = value;
    }
    const server = await startServer({ args: [...args, '-t', '1'], waitReady: false });
    try {
      assert.equal(server.scheme, 'https');
      const r = spawnSync('curl', ['-sk', '-o', '/dev/null', '-w', '%{http_code}', `https://127.0.0.1:${server.port}/health`], { encoding: 'utf8' });
      assert.equal(r.stdout, '200', r.stderr);
    } finally {
      await expectCleanExit(server);
    }
  });
});

// Metric families named in PromQL text: citadel:* and process_* (histograms by their base name).
function metricNames(text) {
  const names = new Set();
  for (const m of text.matchAll(/\b(citadel:[a-z0-9_]+|process_[a-z0-9_]+)/g)) names.add(m[1].replace(/_bucket$/, ''));
  return names;
}

describe('deploy: the metrics the rules and dashboard query exist', () => {
  let server;
  before(async () => {
    server = await startServer({ args: ['-m', `tiny=${tinyModel()}`, '--port', '0', '--kv-mem', '32MiB', '-t', '1',
      '--no-auth', '--public-metrics', '--data-dir', tempDataDir()] });
    await http(server, 'POST', '/v1/chat/completions', { model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
  });
  after(async () => {
    if (server) await expectCleanExit(server);
  });

  test('every metric deploy/ queries is exported', async () => {
    const dash = JSON.parse(read(DEPLOY, 'grafana/citadel-dashboard.json'));
    assert.ok(dash.panels.length >= 8);
    const exprs = dash.panels.flatMap((p) => p.targets.map((t) => t.expr)).join('\n');
    const rules = read(DEPLOY, 'prometheus/citadel-alerts.yml') + read(DEPLOY, 'prometheus/adapter-values.yaml');
    const wanted = new Set([...metricNames(exprs), ...metricNames(rules)]);
    const scrape = (await http(server, 'GET', '/metrics')).text;
    const exported = new Set([...scrape.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]));
    const missing = [...wanted].filter((n) => !exported.has(n));
    assert.deepEqual(missing, [], `queried but not exported: ${missing.join(', ')}`);
  });
});

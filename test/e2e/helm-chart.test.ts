// The Helm chart (helm/peregrine, issue 12): `helm lint`, `helm template` of the default values
// and of the full-featured file (helm/peregrine/ci/full-values.yaml), the rendered objects
// checked for what the chart promises (least-privilege sensor, hub replicas/PDB/probes, Redis
// AOF, secrets in Secrets, NetworkPolicy), values mistakes refused with a message, every
// rendered object accepted by a real kube-apiserver with server-side dry-run and strict field
// validation, and the chart's RBAC compared rule by rule with apps/responder/deploy/rbac.yaml.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { helmTemplate, peregrineChartDir, prepareHelm, runHelm, startTestKubeApi } from '../support/index.ts';
import type { TestKube } from '../support/index.ts';
import { repoRoot } from '../support/server-process.ts';
import { parseHubConfig } from '../../apps/hub/src/index.ts';
import { parseSensorConfig, compileSyscallRules, DEFAULT_RULES_FILE } from '../../apps/sensor/src/index.ts';
import { parsePolicyText } from '../../apps/responder/src/index.ts';

const FULL_VALUES = join(peregrineChartDir, 'ci', 'full-values.yaml');

/** The values example of README.md's "Kubernetes (Helm)" section, as a user would copy it. */
function readmeValues(): string {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Kubernetes (Helm)'));
  const block = /```yaml\n([\s\S]*?)```/.exec(section);
  assert.ok(block, 'README.md has a yaml block in its "Kubernetes (Helm)" section');
  return block[1]!;
}
const NAMESPACE = 'peregrine';

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } } }>;
  envFrom?: Array<{ secretRef?: { name: string }; configMapRef?: { name: string } }>;
  securityContext?: Record<string, unknown> & { capabilities?: { add?: string[]; drop?: string[] } };
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean; subPath?: string }>;
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  command?: string[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

interface PodSpec {
  hostPID?: boolean;
  hostNetwork?: boolean;
  automountServiceAccountToken?: boolean;
  serviceAccountName?: string;
  containers: Container[];
  volumes?: Array<{ name: string; hostPath?: { path: string; type?: string }; configMap?: { name: string }; secret?: { secretName: string }; emptyDir?: unknown }>;
  tolerations?: Array<Record<string, string>>;
}

interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
}

function parseManifests(text: string): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS() as KubeObject | null;
    if (value) objects.push(value);
  }
  return objects;
}

function find(objects: readonly KubeObject[], kind: string, name: string, namespace = NAMESPACE): KubeObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name && (o.metadata.namespace ?? NAMESPACE) === namespace);
  assert.ok(found, `no ${kind} ${namespace}/${name} among: ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}

function podSpec(workload: KubeObject): PodSpec {
  return (workload.spec as { template: { spec: PodSpec } }).template.spec;
}

function envValue(container: Container, name: string): Container['env'] extends Array<infer E> | undefined ? E | undefined : never {
  return container.env?.find((e) => e.name === name);
}

let helm = '';
let defaultObjects: KubeObject[] = [];
let fullObjects: KubeObject[] = [];
let readmeObjects: KubeObject[] = [];
let readmeText = '';
let readmeValuesFile = '';
let defaultText = '';
let fullText = '';
const timings: Record<string, number> = {};

before(async () => {
  const t = Date.now();
  helm = await prepareHelm();
  timings.helmReadyMs = Date.now() - t;
  defaultText = await helmTemplate(helm);
  fullText = await helmTemplate(helm, { valuesFiles: [FULL_VALUES] });
  readmeValuesFile = join(mkdtempSync(join(tmpdir(), 'peregrine-readme-values-')), 'values.yaml');
  writeFileSync(readmeValuesFile, readmeValues());
  readmeText = await helmTemplate(helm, { valuesFiles: [readmeValuesFile] });
  readmeObjects = parseManifests(readmeText);
  defaultObjects = parseManifests(defaultText);
  fullObjects = parseManifests(fullText);
});

after(() => {
  console.log(JSON.stringify({ helmChartTest: timings }));
});

describe('helm lint', () => {
  test('the chart lints clean with the default values and with the full-featured file', async () => {
    for (const extra of [[], ['--values', FULL_VALUES]]) {
      const result = await runHelm(helm, ['lint', '--strict', peregrineChartDir, ...extra]);
      assert.equal(result.code, 0, `helm lint ${extra.join(' ')}:\n${result.stdout}\n${result.stderr}`);
      assert.match(result.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });
});

describe('helm template: default values', () => {
  test('renders the sensor, the hub with Redis, and no responder', () => {
    const kinds = defaultObjects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    assert.deepEqual(kinds, [
      'ConfigMap/peregrine-rules',
      'ConfigMap/peregrine-sensor',
      'DaemonSet/peregrine-sensor',
      'Deployment/peregrine-hub',
      'NetworkPolicy/peregrine-hub',
      'NetworkPolicy/peregrine-redis',
      'PodDisruptionBudget/peregrine-hub',
      'Secret/peregrine-hub-auth',
      'Secret/peregrine-hub-config',
      'Secret/peregrine-redis',
      'Service/peregrine-hub',
      'Service/peregrine-redis',
      'StatefulSet/peregrine-redis',
    ]);
  });

  test('the sensor runs with the listed capabilities, not privileged, in the host PID namespace, on every node', () => {
    const spec = podSpec(find(defaultObjects, 'DaemonSet', 'peregrine-sensor'));
    assert.equal(spec.hostPID, true);
    assert.equal(spec.automountServiceAccountToken, false);
    assert.deepEqual(spec.tolerations, [{ operator: 'Exists' }]);
    const sensor = spec.containers[0]!;
    const sc = sensor.securityContext!;
    assert.equal(sc.privileged, undefined);
    assert.deepEqual(sc.capabilities, { drop: ['ALL'], add: ['BPF', 'PERFMON', 'SYS_PTRACE', 'DAC_READ_SEARCH'] });
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.deepEqual(sc.appArmorProfile, { type: 'Unconfined' });
    const mounts = Object.fromEntries((sensor.volumeMounts ?? []).map((m) => [m.mountPath, m.readOnly === true]));
    assert.deepEqual(mounts, {
      '/sys/kernel/btf': true,
      '/sys/kernel/tracing': true,
      '/run/containerd/containerd.sock': true,
      '/etc/peregrine/sensor.yaml': true,
      '/etc/peregrine/rules.d': true,
      '/var/lib/peregrine/spool': false,
      '/tmp': false,
    });
    const hostPaths = (spec.volumes ?? []).filter((v) => v.hostPath).map((v) => `${v.hostPath!.path}:${v.hostPath!.type}`);
    assert.deepEqual(hostPaths.sort(), ['/run/containerd/containerd.sock:Socket', '/sys/kernel/btf:Directory', '/sys/kernel/tracing:Directory', '/var/lib/peregrine/spool:DirectoryOrCreate']);
    assert.deepEqual(sensor.resources, { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } });
  });

  test('the sensor reads the hub URL and token from a Secret, through ${env:} references of its config', () => {
    const sensor = podSpec(find(defaultObjects, 'DaemonSet', 'peregrine-sensor')).containers[0]!;
    assert.deepEqual(envValue(sensor, 'PEREGRINE_HUB_URL')?.valueFrom?.secretKeyRef, { name: 'peregrine-hub-auth', key: 'url' });
    assert.deepEqual(envValue(sensor, 'PEREGRINE_HUB_TOKEN')?.valueFrom?.secretKeyRef, { name: 'peregrine-hub-auth', key: 'token' });
    const config = parseManifests((find(defaultObjects, 'ConfigMap', 'peregrine-sensor').data as Record<string, string>)['sensor.yaml']!)[0] as unknown as Record<string, unknown>;
    assert.deepEqual((config.outputs as Record<string, unknown>).hub, { url: '${env:PEREGRINE_HUB_URL}', token: '${env:PEREGRINE_HUB_TOKEN}', spoolDir: '/var/lib/peregrine/spool' });
    assert.deepEqual(config.rules, ['/app/packages/rules/rules/peregrine_rules.yaml']);
    const secret = find(defaultObjects, 'Secret', 'peregrine-hub-auth') as KubeObject & { stringData: Record<string, string> };
    assert.equal(secret.stringData.url, 'http://peregrine-hub.peregrine.svc:2801');
    assert.match(secret.stringData.token!, /^[A-Za-z0-9]{40}$/);
  });

  test('the hub: 2 replicas, readiness on /readyz, liveness on /healthz, a PodDisruptionBudget, its config in a Secret', () => {
    const hub = find(defaultObjects, 'Deployment', 'peregrine-hub');
    assert.equal((hub.spec as { replicas: number }).replicas, 2);
    const spec = podSpec(hub);
    const container = spec.containers[0]!;
    assert.equal(container.readinessProbe?.httpGet?.path, '/readyz');
    assert.equal(container.livenessProbe?.httpGet?.path, '/healthz');
    assert.equal(spec.volumes?.find((v) => v.name === 'config')?.secret?.secretName, 'peregrine-hub-config');
    const pdb = find(defaultObjects, 'PodDisruptionBudget', 'peregrine-hub');
    assert.equal((pdb.spec as { minAvailable: number }).minAvailable, 1);
    const hubYaml = (find(defaultObjects, 'Secret', 'peregrine-hub-config') as KubeObject & { stringData: Record<string, string> }).stringData['hub.yaml']!;
    const config = parseManifests(hubYaml)[0] as unknown as Record<string, unknown>;
    assert.deepEqual(config.redis, { url: 'redis://peregrine-redis.peregrine.svc:6379', password: '${env:REDIS_PASSWORD}' });
    assert.deepEqual(config.auth, { tokens: ['${env:PEREGRINE_HUB_TOKEN}'] });
  });

  test('Redis: a StatefulSet with AOF on, its password on stdin (not on the command line), a volume claim', () => {
    const redis = find(defaultObjects, 'StatefulSet', 'peregrine-redis');
    const container = podSpec(redis).containers[0]!;
    const script = container.command!.join(' ');
    assert.match(script, /--appendonly yes/);
    assert.match(script, /redis-server - /);
    assert.match(script, /requirepass "\$REDIS_PASSWORD"/);
    assert.equal((redis.spec as { volumeClaimTemplates: unknown[] }).volumeClaimTemplates.length, 1);
  });

  test('only the sensors reach the hub port; only the hub reaches Redis', () => {
    const policy = find(defaultObjects, 'NetworkPolicy', 'peregrine-hub').spec as { ingress: Array<{ from: Array<{ podSelector?: { matchLabels: Record<string, string> } }>; ports: Array<{ port: number }> }> };
    assert.equal(policy.ingress.length, 1);
    assert.deepEqual(policy.ingress[0]!.from, [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'peregrine', 'app.kubernetes.io/instance': 'peregrine', 'app.kubernetes.io/component': 'sensor' } } }]);
    assert.deepEqual(policy.ingress[0]!.ports, [{ port: 2801, protocol: 'TCP' }]);
    const redisPolicy = find(defaultObjects, 'NetworkPolicy', 'peregrine-redis').spec as typeof policy;
    assert.equal(redisPolicy.ingress[0]!.from[0]!.podSelector!.matchLabels['app.kubernetes.io/component'], 'hub');
  });

  test('secrets are generated once and kept: two renders differ (no release to read back), values given are used', async () => {
    const again = parseManifests(await helmTemplate(helm));
    const token = (o: KubeObject[]) => (find(o, 'Secret', 'peregrine-hub-auth') as KubeObject & { stringData: Record<string, string> }).stringData.token;
    assert.notEqual(token(again), token(defaultObjects), 'a fresh render generates a fresh token (an installed release keeps its own through lookup)');
    assert.equal(token(fullObjects), 'change-me-sensor-token');
  });
});

describe('helm template: the full-featured values file', () => {
  test('custom rules (Falco chart shape) become files loaded after the defaults, in key order', () => {
    const rules = find(fullObjects, 'ConfigMap', 'peregrine-rules').data as Record<string, string>;
    assert.deepEqual(Object.keys(rules).sort(), ['rules-chmod.yaml', 'rules-seed.yaml']);
    assert.match(rules['rules-seed.yaml']!, /- rule: Terminal shell in container/);
    const config = parseManifests((find(fullObjects, 'ConfigMap', 'peregrine-sensor').data as Record<string, string>)['sensor.yaml']!)[0] as unknown as Record<string, unknown>;
    assert.deepEqual(config.rules, ['/app/packages/rules/rules/peregrine_rules.yaml', '/etc/peregrine/rules.d/rules-chmod.yaml', '/etc/peregrine/rules.d/rules-seed.yaml']);
    assert.equal(config.ruleMatching, 'all');
  });

  test('SYS_ADMIN added on request drops allowPrivilegeEscalation: false (Kubernetes documents it as always true with CAP_SYS_ADMIN)', () => {
    const sc = podSpec(find(fullObjects, 'DaemonSet', 'peregrine-sensor')).containers[0]!.securityContext!;
    assert.deepEqual(sc.capabilities?.add, ['BPF', 'PERFMON', 'SYS_PTRACE', 'DAC_READ_SEARCH', 'SYS_ADMIN']);
    assert.equal(sc.allowPrivilegeEscalation, undefined);
  });

  test('destinations and their secrets live in Secrets, never in ConfigMaps', () => {
    const secretValues = ['hooks.slack.com', '0123456789abcdef0123456789abcdef', 'change-me-redis', 'change-me-responder-token', 'change-me-sensor-token', 'siem.example.com'];
    for (const configMap of fullObjects.filter((o) => o.kind === 'ConfigMap')) {
      const text = JSON.stringify(configMap);
      for (const secret of secretValues) assert.ok(!text.includes(secret), `ConfigMap ${configMap.metadata.name} contains ${secret}`);
    }
    const hubYaml = (find(fullObjects, 'Secret', 'peregrine-hub-config') as KubeObject & { stringData: Record<string, string> }).stringData['hub.yaml']!;
    const config = parseManifests(hubYaml)[0] as unknown as { destinations: Record<string, { type: string; settings: Record<string, unknown> }>; bodyLimitBytes: number; redis: Record<string, unknown> };
    assert.deepEqual(Object.keys(config.destinations).sort(), ['oncall', 'responder', 'siem', 'slack']);
    assert.deepEqual(config.destinations.responder, {
      type: 'webhook',
      settings: { address: 'http://peregrine-responder.peregrine.svc:2804/', customHeaders: { Authorization: 'Bearer ${env:RESPONDER_TOKEN}' } },
      match: { minimumPriority: 'critical', fields: ['k8s.pod.name exists', 'k8s.ns.name exists'] },
      delivery: { maxBatch: 1, attempts: 8 },
    } as unknown as { type: string; settings: Record<string, unknown> });
    assert.equal(config.bodyLimitBytes, 5242880);
    assert.equal(config.redis.prefix, '{peregrine}');
    const env = (find(fullObjects, 'Secret', 'peregrine-hub-env') as KubeObject & { stringData: Record<string, string> }).stringData;
    assert.equal(env.SLACK_WEBHOOK_URL, 'https://hooks.slack.com/services/T000/B000/XXXX');
    const hub = podSpec(find(fullObjects, 'Deployment', 'peregrine-hub')).containers[0]!;
    assert.deepEqual(hub.envFrom, [{ secretRef: { name: 'peregrine-hub-env' } }, { secretRef: { name: 'peregrine-extra-env' } }]);
  });

  test('ServiceMonitor, responder, extra NetworkPolicy peers are rendered', () => {
    find(fullObjects, 'ServiceMonitor', 'peregrine-hub');
    find(fullObjects, 'Deployment', 'peregrine-responder');
    find(fullObjects, 'NetworkPolicy', 'peregrine-responder');
    const hubPolicy = find(fullObjects, 'NetworkPolicy', 'peregrine-hub').spec as { ingress: Array<{ from: unknown[] }> };
    assert.equal(hubPolicy.ingress[0]!.from.length, 2);
  });

  test('only the responder has a service account token', () => {
    for (const workload of fullObjects.filter((o) => ['Deployment', 'DaemonSet', 'StatefulSet'].includes(o.kind))) {
      const spec = podSpec(workload);
      if (workload.metadata.name === 'peregrine-responder') assert.equal(spec.serviceAccountName, 'peregrine-responder');
      else assert.equal(spec.automountServiceAccountToken, false, `${workload.kind} ${workload.metadata.name} mounts a service account token`);
    }
  });

  test('other Redis modes: external URL, Sentinel, Cluster (no StatefulSet then)', async () => {
    const cases: Array<{ set: string[]; values?: Record<string, unknown>; redis: Record<string, unknown> }> = [
      { set: ['redis.mode=external', 'redis.external.url=rediss://redis.example:6380'], redis: { url: 'rediss://redis.example:6380' } },
      { set: ['redis.mode=external', 'redis.external.url=redis://r:6379', 'redis.password=pw'], redis: { url: 'redis://r:6379', password: '${env:REDIS_PASSWORD}' } },
      { set: ['redis.mode=sentinel', 'redis.sentinel.nodes[0].host=s0', 'redis.sentinel.nodes[0].port=26379'], redis: { sentinels: [{ host: 's0', port: 26379 }], sentinelName: 'mymaster' } },
      // (a {tag} prefix cannot go through --set, which reads braces as a list)
      { set: ['redis.mode=cluster', 'redis.cluster.nodes[0].host=c0', 'redis.cluster.nodes[0].port=6379'], values: { redis: { prefix: '{pg}' } }, redis: { cluster: [{ host: 'c0', port: 6379 }], prefix: '{pg}' } },
    ];
    for (const { set, values, redis } of cases) {
      const objects = parseManifests(await helmTemplate(helm, { set, values }));
      assert.ok(!objects.some((o) => o.kind === 'StatefulSet'), `${set.join(' ')}: no Redis StatefulSet expected`);
      const hubYaml = (find(objects, 'Secret', 'peregrine-hub-config') as KubeObject & { stringData: Record<string, string> }).stringData['hub.yaml']!;
      assert.deepEqual((parseManifests(hubYaml)[0] as unknown as { redis: unknown }).redis, redis, set.join(' '));
    }
  });

  test('privileged: true for old engines replaces the capability list', async () => {
    const objects = parseManifests(await helmTemplate(helm, { set: ['sensor.privileged=true'] }));
    const sc = podSpec(find(objects, 'DaemonSet', 'peregrine-sensor')).containers[0]!.securityContext!;
    assert.equal(sc.privileged, true);
    assert.equal(sc.capabilities, undefined);
    assert.equal(sc.allowPrivilegeEscalation, undefined);
  });
});

describe('the rendered configuration files are accepted by the programs that read them', () => {
  const env = { PEREGRINE_HUB_URL: 'http://hub:2801', PEREGRINE_HUB_TOKEN: 'a-generated-token-of-40-characters-000000', NODE_NAME: 'node-1', REDIS_PASSWORD: 'p', RESPONDER_TOKEN: 'r', SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/x', PD_ROUTING_KEY: 'k' };
  const renders = () => ({ default: defaultObjects, full: fullObjects, readme: readmeObjects });

  test('hub.yaml passes the hub\'s own validation (destinations and their sink settings included)', () => {
    for (const [label, objects] of Object.entries(renders())) {
      const hubYaml = (find(objects, 'Secret', 'peregrine-hub-config') as KubeObject & { stringData: Record<string, string> }).stringData['hub.yaml']!;
      const config = parseHubConfig(parseManifests(hubYaml)[0], env, `${label} hub.yaml`);
      assert.equal(config.listen.port, 2801, label);
    }
  });

  test('sensor.yaml passes the sensor\'s own validation, and the rules it names compile with the defaults', () => {
    const scratch = mkdtempSync(join(tmpdir(), 'peregrine-chart-rules-'));
    try {
      for (const [label, objects] of Object.entries(renders())) {
        const sensorYaml = (find(objects, 'ConfigMap', 'peregrine-sensor').data as Record<string, string>)['sensor.yaml']!;
        const config = parseSensorConfig(parseManifests(sensorYaml)[0], {}, env, `${label} sensor.yaml`);
        assert.equal(config.outputs.hub?.url, 'http://hub:2801', label);
        const rulesData = (find(objects, 'ConfigMap', 'peregrine-rules').data ?? {}) as Record<string, string>;
        // The image's paths, mapped onto this checkout.
        const files = config.rules.map((path) => {
          if (path === '/app/packages/rules/rules/peregrine_rules.yaml') return DEFAULT_RULES_FILE;
          const name = path.replace('/etc/peregrine/rules.d/', '');
          const file = join(scratch, `${label}-${name}`);
          writeFileSync(file, rulesData[name]!);
          return file;
        });
        const rules = compileSyscallRules(files);
        if (label !== 'default') assert.ok(rules.rules.some((r) => r.name === 'Terminal shell in container'), `${label}: the seed's rule is loaded`);
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  test('the responder\'s policy passes its own validation', () => {
    for (const [label, objects] of Object.entries({ full: fullObjects, readme: readmeObjects })) {
      const text = (find(objects, 'ConfigMap', 'peregrine-responder').data as Record<string, string>)['policy.yaml']!;
      const policy = parsePolicyText(text, `${label} policy.yaml`);
      assert.equal(policy.responderNamespace, NAMESPACE);
    }
  });
});

describe('values mistakes are refused with what to change', () => {
  const cases: Array<{ set: string[]; message: RegExp }> = [
    { set: ['responder.enabled=true'], message: /responder\.policy\.namespaces\.allow: list the namespaces/ },
    { set: ['responder.enabled=true', 'responder.policy.namespaces.allow[0]=team-*'], message: /"team-\*" is a glob/ },
    { set: ['responder.enabled=true', 'responder.policy.namespaces.allow[0]=kube-system'], message: /"kube-system" is never acted in/ },
    { set: ['redis.mode=external'], message: /redis\.external\.url: required/ },
    { set: ['redis.mode=memcached'], message: /redis\.mode: "memcached" is not one of/ },
    { set: ['redis.mode=sentinel'], message: /redis\.sentinel\.nodes: at least one/ },
    { set: ['hub.replicas=0'], message: /hub\.replicas: must be at least 1/ },
    { set: ['hub.auth.token=short'], message: /hub\.auth\.token: use at least 16 characters/ },
  ];
  for (const { set, message } of cases) {
    test(set.join(' '), async () => {
      const args = ['template', 'peregrine', peregrineChartDir, '--namespace', NAMESPACE, ...set.flatMap((s) => ['--set', s])];
      const result = await runHelm(helm, args);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, message);
    });
  }
  test('a custom rules key that is no file name', async () => {
    const result = await runHelm(helm, ['template', 'peregrine', peregrineChartDir, '--set-string', 'customRules.bad/name=x']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /customRules: "bad\/name" is not a usable file name/);
  });
});

describe('RBAC: nothing beyond docs/responder.md (apps/responder/deploy/rbac.yaml)', () => {
  // One (namespace role, apiGroup, resource, resourceName, verb) tuple per permission.
  function grants(roles: readonly KubeObject[], namespaceOf: (role: KubeObject) => string, capName: string): string[] {
    const tuples = new Set<string>();
    for (const role of roles) {
      for (const rule of (role as KubeObject & { rules: PolicyRule[] }).rules) {
        for (const group of rule.apiGroups ?? ['']) {
          for (const resource of rule.resources ?? []) {
            for (const name of rule.resourceNames ?? ['*']) {
              for (const verb of rule.verbs) tuples.add([namespaceOf(role), group, resource, name === capName ? '<cap>' : name, verb].join('|'));
            }
          }
        }
      }
    }
    return [...tuples].sort();
  }

  test('the same Roles as the documented file, in the allowed namespaces and the release namespace, no cluster-wide grant', () => {
    const documented = parseManifests(readFileSync(join(repoRoot, 'apps', 'responder', 'deploy', 'rbac.yaml'), 'utf8'));
    const documentedRoles = documented.filter((o) => o.kind === 'Role');
    // The documented file uses `shop` for "each allowed namespace" and `peregrine-responder` for the responder's own.
    const docNamespace = (role: KubeObject) => (role.metadata.namespace === 'peregrine-responder' ? 'own' : 'allowed');
    const documentedGrants = grants(documentedRoles, docNamespace, 'peregrine-responder-cap');

    const chartRbac = fullObjects.filter((o) => o.apiVersion.startsWith('rbac.authorization.k8s.io/'));
    assert.deepEqual([...new Set(chartRbac.map((o) => o.kind))].sort(), ['Role', 'RoleBinding'], 'no ClusterRole or ClusterRoleBinding');
    const chartRoles = chartRbac.filter((o) => o.kind === 'Role');
    for (const namespace of ['shop', 'team-a']) {
      const inNamespace = chartRoles.filter((r) => r.metadata.namespace === namespace);
      assert.deepEqual(grants(inNamespace, () => 'allowed', 'peregrine-responder-cap'), documentedGrants.filter((g) => g.startsWith('allowed|')), `Roles in ${namespace}`);
    }
    const own = chartRoles.filter((r) => r.metadata.namespace === NAMESPACE);
    assert.deepEqual(grants(own, () => 'own', 'peregrine-responder-cap'), documentedGrants.filter((g) => g.startsWith('own|')), 'Roles in the release namespace');
    assert.deepEqual([...new Set(chartRoles.map((r) => r.metadata.namespace))].sort(), [NAMESPACE, 'shop', 'team-a']);

    // Every binding gives its Role to the responder's service account and nobody else.
    const bindings = chartRbac.filter((o) => o.kind === 'RoleBinding') as Array<KubeObject & { subjects: unknown[]; roleRef: { kind: string; name: string } }>;
    assert.equal(bindings.length, chartRoles.length);
    for (const binding of bindings) {
      assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'peregrine-responder', namespace: NAMESPACE }]);
      assert.equal(binding.roleRef.kind, 'Role');
      assert.ok(chartRoles.some((r) => r.metadata.name === binding.roleRef.name && r.metadata.namespace === binding.metadata.namespace), `binding ${binding.metadata.name} names a Role of the chart in its namespace`);
    }
    // The cap's ConfigMap name the Role allows is the one the policy uses.
    const policy = parseManifests((find(fullObjects, 'ConfigMap', 'peregrine-responder').data as Record<string, string>)['policy.yaml']!)[0] as unknown as { responderNamespace: string };
    assert.equal(policy.responderNamespace, NAMESPACE);
  });

  test('the default values grant nothing', () => {
    assert.equal(defaultObjects.filter((o) => o.apiVersion.startsWith('rbac.authorization.k8s.io/') || o.kind === 'ServiceAccount').length, 0);
  });
});

describe('server-side dry-run with strict field validation on a real kube-apiserver', () => {
  let kube: TestKube | undefined;
  let scratch = '';

  before(async () => {
    const t = Date.now();
    kube = await startTestKubeApi();
    timings.kubeApiReadyMs = Date.now() - t;
    scratch = mkdtempSync(join(tmpdir(), 'peregrine-helm-dry-run-'));
    for (const namespace of [NAMESPACE, 'shop', 'team-a']) await kube.createNamespace(namespace);
    // The Prometheus Operator's ServiceMonitor is a CRD; a stand-in with the fields the chart
    // uses (no preserve-unknown-fields), so strict validation still checks them.
    await kube.kubectl(['apply', '-f', '-'], { input: SERVICE_MONITOR_CRD });
    await kube.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/servicemonitors.monitoring.coreos.com']);
  });

  after(async () => {
    await kube?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  async function dryRun(text: string, label: string): Promise<string> {
    const file = join(scratch, `${label}.yaml`);
    writeFileSync(file, text);
    return kube!.kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', file]);
  }

  test('every object of the default values is accepted', async () => {
    const out = await dryRun(defaultText, 'default');
    assert.equal(out.trim().split('\n').filter((l) => / \(server dry run\)$/.test(l)).length, defaultObjects.length, out);
  });

  test('every object of README.md\'s values example is accepted', async () => {
    const out = await dryRun(readmeText, 'readme');
    assert.equal(out.trim().split('\n').filter((l) => / \(server dry run\)$/.test(l)).length, readmeObjects.length, out);
  });

  test('every object of the full-featured file is accepted', async () => {
    const out = await dryRun(fullText, 'full');
    assert.equal(out.trim().split('\n').filter((l) => / \(server dry run\)$/.test(l)).length, fullObjects.length, out);
  });

  test('the check is real: an unknown field or an invalid value in the rendered chart is refused', async () => {
    const unknownField = fullText.replace('hostPID: true', 'hostPID: true\n      hostPIDs: true');
    assert.notEqual(unknownField, fullText);
    await assert.rejects(dryRun(unknownField, 'unknown-field'), /unknown field "spec\.template\.spec\.hostPIDs"/);
    const badHostPathType = fullText.replace('type: Socket}', 'type: UnixSocket}');
    assert.notEqual(badHostPathType, fullText);
    await assert.rejects(dryRun(badHostPathType, 'invalid-value'), /Unsupported value: "UnixSocket"/);
  });
});

const SERVICE_MONITOR_CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: servicemonitors.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [selector]
              properties:
                selector:
                  type: object
                  properties:
                    matchLabels: {type: object, additionalProperties: {type: string}}
                namespaceSelector:
                  type: object
                  properties:
                    any: {type: boolean}
                    matchNames: {type: array, items: {type: string}}
                endpoints:
                  type: array
                  items:
                    type: object
                    properties:
                      port: {type: string}
                      path: {type: string}
                      interval: {type: string, pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$'}
                      scrapeTimeout: {type: string, pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$'}
`;

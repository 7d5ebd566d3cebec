// deploy/k8s agrees with the code it deploys: every manifest parses, each
// variant's `serval serve` arguments are accepted by the CLI's own parser,
// ports, probe paths and scrape paths are what the server really serves,
// shutdown fits in the grace period, GPUs match --device, and every metric
// the autoscalers and the router document rely on is really exported.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { loadAll } from 'js-yaml';
import { parseServeOptions, type ServeOptions } from '../../src/cli/serve-options.js';
import { parseDevices } from '../../src/engine/config.js';
import { startHarness } from '../front/harness.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const K8S = path.join(ROOT, 'deploy/k8s');
const VARIANTS = ['cpu', 'gpu'] as const;

interface Doc { apiVersion: string; kind: string; metadata?: { name?: string; labels?: Record<string, string> }; spec?: unknown; resources?: string[] }
interface Port { name?: string; containerPort: number }
interface Probe { httpGet?: { path: string; port: string | number } }
interface EnvVar { name: string; value?: string }
interface Mount { name: string; mountPath: string }
interface Container {
  name: string; args?: string[]; ports?: Port[]; env?: EnvVar[]; volumeMounts?: Mount[];
  startupProbe?: Probe; readinessProbe?: Probe; livenessProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number }; exec?: { command: string[] } } };
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
}
interface PodSpec {
  terminationGracePeriodSeconds?: number; containers: Container[];
  volumes?: Array<{ name: string; persistentVolumeClaim?: { claimName: string } }>;
}
interface DeploymentSpec { selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec } }

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return yamlFiles(full);
    return /\.ya?ml$/.test(name) ? [full] : [];
  });
}

function load(file: string): Doc[] {
  return loadAll(readFileSync(file, 'utf8')).filter((doc) => doc !== null) as Doc[];
}

/** The objects `kubectl apply -k dir` would create (resources only; no patches are used here). */
function kustomize(dir: string): Doc[] {
  const [kustomization] = load(path.join(dir, 'kustomization.yaml'));
  return (kustomization.resources ?? []).flatMap((resource) => {
    const target = path.join(dir, resource);
    return statSync(target).isDirectory() ? kustomize(target) : load(target);
  });
}

function only(docs: Doc[], kind: string): Doc {
  const found = docs.filter((doc) => doc.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind}, found ${found.length}`);
  return found[0];
}

function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/** Metric names in a PromQL expression or series selector. */
function metricNames(promql: string): string[] {
  const named = [...promql.matchAll(/__name__="([^"]+)"/g)].map((m) => m[1]);
  const bare = [...promql.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)].map((m) => m[1]);
  return [...named, ...bare];
}

function resolvePort(container: Container, port: string | number): number | undefined {
  if (typeof port === 'number') return port;
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

function gpuCount(value: string | number | undefined): number {
  return value === undefined ? 0 : Number(value);
}

t.test('every manifest parses as YAML objects with apiVersion, kind and a name', async (t) => {
  const files = yamlFiles(K8S);
  t.ok(files.length >= 10, `${files.length} YAML files`);
  // Helm values files (*-values.yaml) are plain YAML, not Kubernetes objects.
  for (const file of files.filter((name) => name.endsWith('-values.yaml'))) t.ok(load(file).length > 0, `${path.relative(K8S, file)} parses`);
  for (const file of files.filter((name) => !name.endsWith('-values.yaml'))) {
    const docs = load(file);
    t.ok(docs.length > 0, `${path.relative(K8S, file)} has documents`);
    for (const doc of docs) {
      t.type(doc.apiVersion, 'string', `${path.relative(K8S, file)}: apiVersion`);
      t.type(doc.kind, 'string', `${path.relative(K8S, file)}: kind`);
      if (doc.kind !== 'Kustomization') t.type(doc.metadata?.name, 'string', `${path.relative(K8S, file)}: metadata.name`);
    }
  }
});

// Exported metric names, read from the real server's /metrics (vllm:* from the
// registry, serval:* from the admission layer), and probe answers.
const served = await (async () => {
  const { server, base } = await startHarness({ maxConcurrency: 4, maxQueue: 8 });
  try {
    const status = async (route: string): Promise<number> => (await fetch(`${base}${route}`)).status;
    const text = await (await fetch(`${base}/metrics`)).text();
    const names = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    const probeStatus = new Map<string, number>();
    for (const variant of VARIANTS) {
      const pod = (only(kustomize(path.join(K8S, variant)), 'Deployment').spec as DeploymentSpec).template;
      const container = pod.spec.containers[0];
      const paths = [container.startupProbe, container.readinessProbe, container.livenessProbe].map((probe) => probe?.httpGet?.path);
      for (const route of [...paths, pod.metadata.annotations?.['prometheus.io/path']]) {
        if (route !== undefined && !probeStatus.has(route)) probeStatus.set(route, await status(route));
      }
    }
    return { names, probeStatus };
  } finally {
    await server.close();
  }
})();

function exported(name: string): boolean {
  return served.names.has(name);
}

for (const variant of VARIANTS) {
  t.test(`${variant}: the Deployment agrees with the CLI and the server`, async (t) => {
    const docs = kustomize(path.join(K8S, variant));
    const deployment = only(docs, 'Deployment');
    const spec = deployment.spec as DeploymentSpec;
    const pod = spec.template.spec;
    const container = pod.containers.find((c) => c.name === 'serval');
    if (container === undefined) throw new Error('no serval container');
    const args = container.args ?? [];
    t.equal(args[0], 'serve', 'runs `serval serve`');

    // The CLI's own parser (strict: an unknown flag or a bad value throws).
    const options = parseServeOptions(args.slice(1)) as ServeOptions;
    t.not(options, 'help');
    t.equal(options.host, '0.0.0.0', 'listens on the pod IP, not loopback');

    const http = container.ports?.find((p) => p.name === 'http');
    t.equal(http?.containerPort, options.port, 'containerPort = --port');
    const service = only(docs, 'Service').spec as { selector: Record<string, string>; ports: Array<{ targetPort: string | number }> };
    for (const port of service.ports) t.equal(resolvePort(container, port.targetPort), options.port, 'Service targetPort = --port');
    t.ok(matches(service.selector, spec.template.metadata.labels), 'Service selects the pods');
    t.ok(matches(spec.selector.matchLabels, spec.template.metadata.labels), 'Deployment selects its pods');

    const annotations = spec.template.metadata.annotations ?? {};
    t.equal(Number(annotations['prometheus.io/port']), options.port, 'scrape port = --port');
    t.equal(served.probeStatus.get(annotations['prometheus.io/path'] ?? ''), 200, 'scrape path is served');

    for (const [kind, probe] of [['startup', container.startupProbe], ['readiness', container.readinessProbe], ['liveness', container.livenessProbe]] as const) {
      const get = probe?.httpGet;
      if (get === undefined) throw new Error(`${kind} probe without httpGet`);
      t.equal(resolvePort(container, get.port), options.port, `${kind} probe port = --port`);
      t.equal(served.probeStatus.get(get.path), 200, `${kind} probe path ${get.path} answers 200 on a ready server`);
    }

    const preStop = container.lifecycle?.preStop;
    const preStopSeconds = preStop?.sleep?.seconds ?? Number(preStop?.exec?.command.at(-1) ?? NaN);
    t.ok(preStopSeconds > 0, `preStop delay ${preStopSeconds} s`);
    t.ok((pod.terminationGracePeriodSeconds ?? 30) > options.shutdownTimeout + preStopSeconds,
      `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} > preStop ${preStopSeconds} + --shutdown-timeout ${options.shutdownTimeout}`);

    const requests = container.resources?.requests ?? {};
    const limits = container.resources?.limits ?? {};
    t.ok(requests.cpu !== undefined && requests.memory !== undefined, 'cpu and memory requested');
    t.ok(limits.memory !== undefined, 'memory limited');

    // One device worker per GPU: --device lists exactly the GPUs the pod gets.
    const gpus = gpuCount(limits['nvidia.com/gpu']);
    t.equal(gpuCount(requests['nvidia.com/gpu']), gpus, 'GPU request = limit');
    const devices = parseDevices(options.device, options.workers);
    if (variant === 'gpu') {
      t.ok(gpus > 0, 'asks for GPUs');
      t.same(devices, Array.from({ length: gpus }, (_, deviceId) => ({ name: 'cuda', deviceId })), '--device is cuda:0..cuda:N-1, one per GPU');
    } else {
      t.equal(gpus, 0, 'asks for no GPU');
      t.ok(devices.every((device) => device === 'cpu'), 'runs on CPU');
    }

    // Model folder and caches live on the PVC.
    const claims = new Set(docs.filter((doc) => doc.kind === 'PersistentVolumeClaim').map((doc) => doc.metadata?.name));
    const pvcVolumes = new Set((pod.volumes ?? []).filter((v) => v.persistentVolumeClaim !== undefined && claims.has(v.persistentVolumeClaim.claimName)).map((v) => v.name));
    const pvcMounts = (container.volumeMounts ?? []).filter((m) => pvcVolumes.has(m.name)).map((m) => m.mountPath);
    const onPvc = (dir: string | null | undefined): boolean => dir != null && pvcMounts.some((mount) => dir.startsWith(`${mount}/`));
    t.ok(onPvc(options.model), `--model ${options.model} is on the PVC`);
    for (const name of ['HF_HOME', 'SERVAL_CACHE_DIR']) {
      t.ok(onPvc(container.env?.find((e) => e.name === name)?.value), `${name} is on the PVC`);
    }

    for (const kind of ['PodDisruptionBudget']) {
      const selector = (only(docs, kind).spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
      t.ok(matches(selector, spec.template.metadata.labels), `${kind} selects the pods`);
    }
    const hpa = only(docs, 'HorizontalPodAutoscaler').spec as { scaleTargetRef: { kind: string; name: string } };
    t.same(hpa.scaleTargetRef, { ...hpa.scaleTargetRef, kind: 'Deployment', name: deployment.metadata?.name }, 'HPA scales this Deployment');
  });
}

t.test('the HPA scales on custom metrics that prometheus-adapter derives from exported series', async (t) => {
  const hpa = only(kustomize(path.join(K8S, 'common')), 'HorizontalPodAutoscaler').spec as { metrics: Array<{ type: string; pods?: { metric: { name: string } } }> };
  const [values] = load(path.join(K8S, 'monitoring/prometheus-adapter-values.yaml')) as unknown as Array<{ rules: { custom: Array<{ seriesQuery: string; name: { matches: string; as: string } }> } }>;
  const published = new Map(values.rules.custom.map((rule) => [rule.name.as, rule]));
  const hpaMetrics = hpa.metrics.map((metric) => metric.pods?.metric.name);
  t.ok(hpaMetrics.includes('vllm_num_requests_waiting'), 'scales on vllm:num_requests_waiting');
  for (const name of hpaMetrics) {
    const rule = published.get(name ?? '');
    if (rule === undefined) {
      t.fail(`HPA metric ${name} is published by no prometheus-adapter rule`);
      continue;
    }
    for (const series of metricNames(rule.seriesQuery)) {
      t.ok(exported(series), `${name} <- ${series} is exported`);
      t.match(series, new RegExp(rule.name.matches), `the rule renames ${series}`);
    }
  }
});

t.test('the KEDA alternative queries exported series', async (t) => {
  const scaled = only(load(path.join(K8S, 'keda/scaledobject.yaml')), 'ScaledObject').spec as { triggers: Array<{ metadata: { query: string } }> };
  const names = scaled.triggers.flatMap((trigger) => metricNames(trigger.metadata.query));
  t.ok(names.includes('vllm:num_requests_waiting'));
  for (const name of names) t.ok(exported(name), `${name} is exported`);
});

t.test('the InferencePool targets the pods on --port', async (t) => {
  const docs = kustomize(path.join(K8S, 'cpu'));
  const spec = only(docs, 'Deployment').spec as DeploymentSpec;
  const options = parseServeOptions((spec.template.spec.containers[0].args ?? []).slice(1)) as ServeOptions;
  const pool = only(load(path.join(K8S, 'router/inferencepool.yaml')), 'InferencePool').spec as { selector: { matchLabels: Record<string, string> }; targetPorts: Array<{ number: number }> };
  t.ok(matches(pool.selector.matchLabels, spec.template.metadata.labels), 'selects the pods');
  t.same(pool.targetPorts.map((p) => p.number), [options.port]);
});

t.test("README's compatibility table says truly which metrics are exported", async (t) => {
  const readme = readFileSync(path.join(K8S, 'README.md'), 'utf8');
  // Rows like: | `vllm:kv_cache_usage_perc` | exported | … |
  const rows = [...readme.matchAll(/^\| `([a-z_:]+)` \| (exported|not exported) \|/gm)];
  t.ok(rows.length >= 5, `${rows.length} metric rows`);
  for (const [, name, claim] of rows) t.equal(exported(name), claim === 'exported', `${name}: ${claim}`);
  for (const name of ['vllm:num_requests_waiting', 'vllm:kv_cache_usage_perc', 'vllm:lora_requests_info']) {
    t.ok(rows.some((row) => row[1] === name), `the table covers ${name}`);
  }
});

// The Helm chart (deploy/helm/tensorbind): `helm lint` and `helm template` for every values file
// in its ci/ folder, and every rendered object validated against the Kubernetes, KEDA and
// Prometheus Operator schemas (kubernetes-models), plus what the chart promises.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import { ConfigMap, Secret, Service } from "kubernetes-models/v1";
import { describe, expect, it } from "vitest";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { ROOT } from "../helpers/cli.js";

const CHART = join(ROOT, "deploy/helm/tensorbind");
const HELM = existsSync(join(ROOT, ".tools/bin/helm")) ? join(ROOT, ".tools/bin/helm") : "helm";
const VALUES = readdirSync(join(CHART, "ci")).filter((f) => f.endsWith(".yaml"));

type Manifest = Record<string, any>;

// The models' constructors take their own typed shapes; a rendered manifest is checked at run time.
const MODELS: Record<string, new (o: any) => { validate(): void }> = {
  "apps/v1/Deployment": Deployment,
  "v1/Service": Service,
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
};

function render(valuesFile: string, ...extra: string[]): Manifest[] {
  const out = execFileSync(HELM, ["template", "tb", CHART, "-f", join(CHART, "ci", valuesFile), ...extra], {
    encoding: "utf8",
  });
  return parseAllDocuments(out)
    .map((d) => d.toJSON() as Manifest | null)
    .filter((d): d is Manifest => d !== null);
}

function validate(m: Manifest): void {
  const Model = MODELS[`${m.apiVersion}/${m.kind}`];
  if (!Model) throw new Error(`no schema for ${m.apiVersion} ${m.kind}`);
  new Model(m).validate();
}

const find = (ms: Manifest[], kind: string, suffix = "") =>
  ms.find((m) => m.kind === kind && (m.metadata.name as string).endsWith(suffix));

describe("deploy/helm/tensorbind", () => {
  it("has helm", () => {
    expect(spawnSync(HELM, ["version", "--short"]).status, "scripts/install-helm.sh builds it").toBe(0);
  });

  it.each(VALUES)("lints and renders valid objects with ci/%s", (file) => {
    const lint = spawnSync(HELM, ["lint", "--strict", CHART, "-f", join(CHART, "ci", file)], {
      encoding: "utf8",
    });
    expect(lint.status, lint.stdout + lint.stderr).toBe(0);
    const manifests = render(file);
    expect(manifests.length).toBeGreaterThan(2);
    for (const m of manifests) expect(() => validate(m), `${m.kind} ${m.metadata?.name}`).not.toThrow();
  });

  it("the validators catch broken objects (so the checks above can fail)", () => {
    const [deployment] = render("quickstart-values.yaml").filter((m) => m.kind === "Deployment");
    const broken = structuredClone(deployment!);
    broken.spec.template.spec.containers[0].ports[0].containerPort = "http";
    expect(() => validate(broken)).toThrow();
    expect(() =>
      validate({ apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject", metadata: { name: "x" }, spec: {} }),
    ).toThrow();
  });

  it("refuses values outside the schema with the value's path", () => {
    const r = spawnSync(
      HELM,
      ["lint", CHART, "-f", join(CHART, "ci/quickstart-values.yaml"), "--set", "shm.sizeLimit=lots"],
      {
        encoding: "utf8",
      },
    );
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/shm\/sizeLimit/);
  });

  it("servers: probes on the v2 health endpoints, preStop drain, /dev/shm in memory, non-root, read-only root", () => {
    const ms = render("quickstart-values.yaml");
    const d = find(ms, "Deployment", "tb-tensorbind")!;
    const pod = d.spec.template.spec;
    const c = pod.containers[0];
    expect(c.readinessProbe.httpGet.path).toBe("/v2/health/ready");
    expect(c.livenessProbe.httpGet.path).toBe("/v2/health/live");
    expect(c.lifecycle.preStop.exec.command).toEqual(["sleep", "5"]);
    expect(c.args).toContain("--host=0.0.0.0");
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.volumes.find((v: Manifest) => v.name === "shm").emptyDir).toEqual({
      medium: "Memory",
      sizeLimit: "2Gi",
    });
    expect(c.volumeMounts).toContainEqual({ name: "shm", mountPath: "/dev/shm" });
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(5 + 30);
    const svc = find(ms, "Service", "tb-tensorbind")!;
    expect(svc.spec.ports.map((p: Manifest) => p.port)).toEqual([8000, 8001, 8002]);
    expect(find(ms, "ConfigMap", "-models")!.data["models.ts"]).toContain("bind(");
  });

  it("Envoy: health-checked, retrying clusters for gRPC (HTTP/2) and HTTP over the headless Service", () => {
    const ms = render("quickstart-values.yaml");
    const envoy = parseYaml(find(ms, "ConfigMap", "-envoy")!.data["envoy.yaml"]);
    const clusters = envoy.static_resources.clusters as Manifest[];
    expect(clusters.map((c) => c.name)).toEqual(["tensorbind_grpc", "tensorbind_http"]);
    for (const c of clusters) {
      expect(c.health_checks[0].http_health_check.path).toBe("/v2/health/ready");
      expect(c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address).toBe(
        "tb-tensorbind-pods.default.svc.cluster.local",
      );
    }
    expect(clusters[0]!.typed_extension_protocol_options).toBeDefined();
    const route = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config;
    expect(route.virtual_hosts[0].routes[0].route.retry_policy.retry_on).toContain("refused-stream");
    expect(find(ms, "Service", "-pods")!.spec.clusterIP).toBe("None");
  });

  it("GPU and autoscaling: nvidia.com/gpu, KEDA on SuperSONIC's queue-time formula, ServiceMonitor, dashboard", () => {
    const ms = render("gpu-autoscaling-values.yaml");
    const d = find(ms, "Deployment", "tb-tensorbind")!;
    expect(d.spec.replicas).toBeUndefined(); // KEDA owns the count
    expect(d.spec.template.spec.containers[0].resources.limits["nvidia.com/gpu"]).toBe(1);
    const so = find(ms, "ScaledObject")!;
    expect(so.spec.scaleTargetRef.name).toBe(d.metadata.name);
    const trigger = so.spec.triggers[0];
    expect(trigger.type).toBe("prometheus");
    expect(trigger.metadata.query).toMatch(/rate\(nv_inference_queue_duration_us\{.*\}\[30s\]\)/);
    expect(trigger.metadata.query).toMatch(/rate\(nv_inference_exec_count\{.*\}\[30s\]\)/);
    expect(trigger.metadata.threshold).toBe("50");
    expect(find(ms, "ServiceMonitor")!.spec.endpoints[0].port).toBe("metrics");
    const dashboard = find(ms, "ConfigMap", "-grafana-dashboard")!.data["tensorbind.json"];
    expect(JSON.parse(dashboard)).toEqual(
      JSON.parse(readFileSync(join(ROOT, "deploy/grafana/tensorbind.json"), "utf8")),
    );
  });

  it("auth and TLS: the token from a Secret, certificates mounted, probes over HTTPS", () => {
    const ms = render("secure-values.yaml");
    const c = find(ms, "Deployment", "tb-tensorbind")!.spec.template.spec.containers[0];
    expect(c.env).toContainEqual({
      name: "TENSORBIND_AUTH_TOKEN",
      valueFrom: { secretKeyRef: { name: "tensorbind-token", key: "token" } },
    });
    expect(c.env).toContainEqual({ name: "TENSORBIND_AUTH_OPEN_HEALTH", value: "true" });
    expect(c.env).toContainEqual({ name: "TENSORBIND_TLS_CERT_FILE", value: "/etc/tensorbind/tls/tls.crt" });
    expect(c.env).toContainEqual({ name: "TENSORBIND_TLS_CA_FILE", value: "/etc/tensorbind/tls/ca.crt" });
    // client certificates required: the kubelet (no certificate) probes the port
    expect(c.readinessProbe.tcpSocket.port).toBe("http");
    const oneWay = find(
      render("secure-values.yaml", "--set", "tls.clientCertificates=false"),
      "Deployment",
      "tb-tensorbind",
    )!;
    expect(oneWay.spec.template.spec.containers[0].readinessProbe.httpGet.scheme).toBe("HTTPS");
    expect(c.volumeMounts).toContainEqual({ name: "tls", mountPath: "/etc/tensorbind/tls", readOnly: true });
    expect(find(ms, "Secret")).toBeUndefined(); // existingSecret: the chart makes none
  });

  it("models baked into the image: no volume over them, no Envoy", () => {
    const ms = render("no-balancer-values.yaml");
    const d = find(ms, "Deployment", "tb-tensorbind")!;
    expect(d.spec.replicas).toBe(3);
    expect(d.spec.template.spec.containers[0].volumeMounts.map((v: Manifest) => v.name)).not.toContain(
      "models",
    );
    expect(ms.some((m) => (m.metadata.name as string).includes("envoy"))).toBe(false);
  });
});

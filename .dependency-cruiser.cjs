// The layer rule of src/ (docs/DESIGN.md, "Layers"): each folder imports only from folders
// below it, and nothing imports in a cycle (type-only imports count too).
//   core  <  scheduler, backends, shm  <  model  <  repository  <  frontends  <  metrics  <  tracing  <  dashboard
//         <  cluster  <  server.ts, bind.ts, config.ts  <  cli/, index.ts
const below = (from, allowed, comment) => ({
  name: `layer-${from.replace(/[^a-z]/g, "")}`,
  comment,
  severity: "error",
  from: { path: `^src/${from}` },
  to: { path: "^src/", pathNot: `^src/(${allowed.join("|")})` },
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "A cycle makes two modules one unit that can only be understood together.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    below("core/", ["core/"], "core is the vocabulary: errors, tensors, requests, specs, the backend and core contracts."),
    below("scheduler/", ["core/", "scheduler/"], "the scheduler knows backends only through core's Backend contract."),
    below("backends/", ["core/", "backends/"], "backends know nothing of models, the wire or the server."),
    {
      name: "backends-independent",
      comment: "js, python and native backends do not import each other (shared code sits in backends/*.ts).",
      severity: "error",
      from: { path: "^src/backends/([^/]+)/" },
      to: { path: "^src/backends/[^/]+/", pathNot: "^src/backends/$1/" },
    },
    below("shm/", ["core/", "shm/"], "clients' shared-memory regions: the core's SharedMemoryCore, over the shm addon."),
    below("model/", ["core/", "scheduler/", "backends/", "model/"], "the engine: models, registry, validation."),
    below("repository/", ["core/", "scheduler/", "backends/", "model/", "repository/"], "Triton model repositories: config.pbtxt, versions, ensembles, load/unload over the registry."),
    below("frontends/", ["core/", "frontends/"], "frontends only translate wire formats to core calls."),
    {
      name: "frontends-independent",
      comment: "HTTP and gRPC do not import each other.",
      severity: "error",
      from: { path: "^src/frontends/([^/]+)/" },
      to: { path: "^src/frontends/[^/]+/", pathNot: "^src/frontends/$1/" },
    },
    below("metrics/", ["core/", "model/", "frontends/http/", "metrics/"], "metrics read the engine; their server reuses HTTP helpers."),
    below("tracing/", ["core/", "metrics/", "tracing/"], "request logs listen to the engine's request events."),
    below("dashboard/", ["core/", "model/", "frontends/http/", "metrics/", "dashboard/"], "the dashboard reads metrics and models."),
    below("cluster/", ["core/", "backends/request-buffer", "backends/shm-addon", "frontends/", "cluster/"], "frontend threads: the frontends on shared ports, feeding the engine's thread."),
    below("(server|bind|config)\\.ts", ["core/", "scheduler/", "backends/", "shm/", "model/", "repository/", "frontends/", "metrics/", "tracing/", "dashboard/", "cluster/", "server\\.ts", "bind\\.ts", "config\\.ts"], "the composition root composes everything below it."),
    {
      name: "nothing-imports-the-top",
      comment: "cli/ and index.ts are entry points: nothing in src imports them except cli itself.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/cli/" },
      to: { path: "^src/(cli/|index\\.ts)" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "\\.test\\.ts$" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
  },
};

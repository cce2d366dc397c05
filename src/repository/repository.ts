import {
  existsSync,
  type FSWatcher,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  watch,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import { ConfigError, InvalidArgumentError, NotFoundError } from "../core/errors.js";
import type { RepositoryEntry } from "../core/inference-core.js";
import type { Logger } from "../core/logger.js";
import type { Registry } from "../model/registry.js";
import { type DefinitionContext, type ModelDefinition, readDefinition } from "./definition.js";
import { fingerprint } from "./fingerprint.js";
import { nativeDefinitions, nativeFile } from "./native-entry.js";

export type ModelControlMode = "none" | "poll" | "explicit";

export interface RepositoryOptions {
  /** Repository directories (Triton's --model-repository, repeatable). */
  readonly paths: readonly string[];
  /** none: load everything at start; poll: also follow changes; explicit: only what is asked. */
  readonly controlMode?: ModelControlMode;
  /** With explicit control: the models loaded at start ("*": all). */
  readonly startupModels?: readonly string[];
  /** With poll: seconds between scans of the repositories (default 15). */
  readonly pollSecs?: number;
  /** Interpreter for the models' Python workers (default: TENSORBIND_PYTHON, else python3). */
  readonly interpreter?: string;
  /** Reload a model when a file below its directory changes (development; beyond Triton). */
  readonly watch?: boolean;
}

/** Editors write a file in several steps; one reload follows the last of them. */
const WATCH_DEBOUNCE_MS = 150;

export interface LoadOverrides {
  /** A complete model config in JSON, used instead of config.pbtxt. */
  readonly config?: string;
  /** Files of the model directory by relative path ("1/model.py"); they need `config`. */
  readonly files?: Readonly<Record<string, Uint8Array>>;
}

interface Entry {
  dir: string;
  /** Set while the model (or its last load attempt) is known: what is bound, or why not. */
  definition: ModelDefinition | undefined;
  failure: string | undefined;
  loaded: boolean;
  /** The directory as it was at the last load attempt (poll and watch reload on a change). */
  fingerprint: string | undefined;
}

/**
 * Triton's model repository over tensorbind's registry: reads model directories, binds each
 * served version (through Registry.replace, so a reload never drops a request), unloads, and
 * lists every model it knows with its state. Operations on one model run one after another.
 */
export class ModelRepository {
  readonly #registry: Registry;
  readonly #log: Logger;
  readonly #options: RepositoryOptions;
  readonly #context: DefinitionContext;
  readonly #runtimeDir: string;
  readonly #entries = new Map<string, Entry>();
  readonly #chains = new Map<string, Promise<unknown>>();
  readonly #watchers: FSWatcher[] = [];
  readonly #debounce = new Map<string, NodeJS.Timeout>();
  #pollTimer: NodeJS.Timeout | undefined;
  #polling = false;
  #overrideCount = 0;
  #stopped = false;

  constructor(parts: {
    registry: Registry;
    log: Logger;
    runtimeDir: string;
    options: RepositoryOptions;
  }) {
    this.#registry = parts.registry;
    this.#log = parts.log;
    this.#options = parts.options;
    this.#runtimeDir = parts.runtimeDir;
    this.#context = {
      interpreter: parts.options.interpreter ?? process.env.TENSORBIND_PYTHON,
    };
    for (const p of parts.options.paths) {
      if (!existsSync(p) || !statSync(p).isDirectory())
        throw new ConfigError(`model repository ${p} is not a directory`);
    }
  }

  get controlMode(): ModelControlMode {
    return this.#options.controlMode ?? "none";
  }

  /** Loads the models the control mode starts with; a model that fails is logged and listed, not fatal. */
  async start(): Promise<void> {
    this.scan();
    const wanted =
      this.controlMode !== "explicit" || (this.#options.startupModels ?? []).includes("*")
        ? [...this.#entries.keys()]
        : [...(this.#options.startupModels ?? [])];
    for (const name of wanted)
      if (!this.#entries.has(name))
        throw new ConfigError(`--load-model ${name}: no such model in the repository`);
    // Composing models first, so an ensemble finds its steps loaded.
    const order = [...wanted].sort((a, b) => this.#rank(a) - this.#rank(b));
    await Promise.all(order.filter((n) => this.#rank(n) === 0).map((n) => this.load(n).catch(() => {})));
    for (const n of order.filter((n) => this.#rank(n) > 0)) await this.load(n).catch(() => {});
    if (this.controlMode === "poll") {
      const ms = Math.max(1, this.#options.pollSecs ?? 15) * 1000;
      this.#pollTimer = setInterval(() => void this.poll(), ms);
      this.#pollTimer.unref();
    }
    if (this.#options.watch) this.#watch();
  }

  /**
   * Re-reads the repositories (poll mode's tick): a new model directory loads, a changed one
   * reloads (a new version directory, an edited config or file), a removed one unloads.
   */
  async poll(): Promise<void> {
    if (this.#stopped || this.#polling) return;
    this.#polling = true;
    try {
      this.scan();
      await Promise.all([...this.#entries.keys()].map((name) => this.#reloadIfChanged(name, true)));
    } finally {
      this.#polling = false;
    }
  }

  async #reloadIfChanged(name: string, loadNew: boolean): Promise<void> {
    const entry = this.#entries.get(name);
    if (!entry || this.#stopped) return;
    const now = fingerprint(entry.dir);
    if (now === undefined) {
      this.#entries.delete(name);
      await this.#serial(name, () => this.#unload(name));
      return;
    }
    if (now === entry.fingerprint || (!loadNew && !entry.loaded)) return;
    this.#log.info({ model: name }, "model files changed: reloading");
    await this.load(name).catch(() => {});
  }

  /** --watch: a change below a model directory reloads that model (debounced), within a second. */
  #watch(): void {
    for (const root of this.#options.paths) {
      const watcher = watch(root, { recursive: true }, (_event, filename) => {
        const name = filename?.toString().split(sep)[0];
        if (!name || name.startsWith(".")) return;
        clearTimeout(this.#debounce.get(name));
        const timer = setTimeout(() => {
          this.#debounce.delete(name);
          this.scan();
          void this.#reloadIfChanged(name, this.controlMode !== "explicit");
        }, WATCH_DEBOUNCE_MS);
        timer.unref();
        this.#debounce.set(name, timer);
      });
      watcher.on("error", (err) => this.#log.warn({ err, root }, "repository watch failed"));
      this.#watchers.push(watcher);
    }
  }

  /** Finds model directories; a name in two repositories is an error for that name. */
  scan(): void {
    const seen = new Map<string, string>();
    for (const root of this.#options.paths) {
      for (const name of readdirSync(root).sort()) {
        const dir = resolve(root, name);
        if (name.startsWith(".") || !statSync(dir).isDirectory()) continue;
        const other = seen.get(name);
        if (other !== undefined) {
          this.#log.error({ model: name, dirs: [other, dir] }, "model name found in two repositories");
          continue;
        }
        seen.set(name, dir);
        const entry = this.#entries.get(name);
        if (entry) entry.dir = dir;
        else
          this.#entries.set(name, {
            dir,
            definition: undefined,
            failure: undefined,
            loaded: false,
            fingerprint: undefined,
          });
      }
    }
  }

  /** Every model of the repository with each version's state (Triton's index); `ready` keeps READY ones. */
  index(readyOnly = false): RepositoryEntry[] {
    const out: RepositoryEntry[] = [];
    for (const name of [...this.#entries.keys()].sort()) {
      const entry = this.#entries.get(name)!;
      const versions = this.#registry.list().filter((m) => m.name === name);
      for (const m of versions) out.push({ name, version: m.version, state: m.state, reason: m.reason });
      if (versions.length === 0)
        out.push({ name, version: "", state: "UNAVAILABLE", reason: entry.failure ?? "unloaded" });
    }
    return readyOnly ? out.filter((e) => e.state === "READY") : out;
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /**
   * Loads (or reloads) a model: the served versions are replaced one by one after the new ones
   * are ready, versions the policy no longer serves are unloaded. On failure the versions that
   * were serving keep serving and the error is thrown (and listed in the index).
   */
  load(name: string, overrides: LoadOverrides = {}): Promise<void> {
    return this.#serial(name, () => this.#load(name, overrides));
  }

  /** Unloads every version of a model (and, with `unloadDependents`, the ensembles that call it). */
  unload(name: string, options: { unloadDependents?: boolean } = {}): Promise<void> {
    if (!this.#entries.has(name))
      return Promise.reject(new NotFoundError(`failed to unload '${name}': no such model`));
    const dependents = options.unloadDependents
      ? [...this.#entries]
          .filter(([, e]) => e.loaded && e.definition?.dependencies.includes(name))
          .map(([n]) => n)
      : [];
    return Promise.all([
      this.#serial(name, () => this.#unload(name)),
      ...dependents.map((d) => this.#serial(d, () => this.#unload(d))),
    ]).then(() => undefined);
  }

  /** Unloads everything this repository loaded (the server is stopping). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#pollTimer);
    for (const w of this.#watchers) w.close();
    for (const t of this.#debounce.values()) clearTimeout(t);
    await Promise.all([...this.#entries.keys()].map((n) => this.#serial(n, () => this.#unload(n))));
  }

  #serial<T>(name: string, op: () => Promise<T>): Promise<T> {
    const run = (this.#chains.get(name) ?? Promise.resolve()).then(op, op);
    this.#chains.set(
      name,
      run.catch(() => undefined),
    );
    return run;
  }

  async #load(name: string, overrides: LoadOverrides): Promise<void> {
    if (this.#stopped) throw new ConfigError(`model '${name}': the server is stopping`);
    let entry = this.#entries.get(name);
    let dir = entry?.dir;
    if (overrides.files !== undefined && Object.keys(overrides.files).length > 0) {
      if (overrides.config === undefined)
        throw new InvalidArgumentError(
          `failed to load '${name}': file overrides need a 'config' override too`,
        );
      // The override files are the model directory for this load only (as in Triton).
      dir = this.#writeOverrideFiles(name, overrides.files);
      if (!entry) {
        entry = { dir, definition: undefined, failure: undefined, loaded: false, fingerprint: undefined };
        this.#entries.set(name, entry);
      }
    }
    if (!entry || dir === undefined)
      throw new NotFoundError(`failed to load '${name}': no such model in the repository`);
    if (dir === entry.dir) entry.fingerprint = fingerprint(dir);
    let definition: ModelDefinition;
    try {
      const native =
        overrides.config === undefined && !existsSync(join(dir, "config.pbtxt"))
          ? nativeFile(dir)
          : undefined;
      definition =
        native === undefined
          ? await readDefinition(name, dir, this.#context, overrides.config)
          : {
              name,
              dir,
              backend: "native",
              config: {},
              dependencies: [],
              versions: await nativeDefinitions(name, native, this.#context.interpreter),
            };
      for (const dep of definition.dependencies) {
        if (!this.#entries.has(dep) && this.#registry.versionsOf(dep).length === 0)
          throw new ConfigError(`ensemble '${name}': step model '${dep}' is not in the repository`);
      }
      const before = this.#registry.versionsOf(name);
      // Each version is loaded beside the one serving and swapped in once ready (no drop).
      for (const options of definition.versions) await this.#registry.replace(options);
      const served = new Set(definition.versions.map((o) => String(o.version)));
      for (const v of before) if (!served.has(v)) await this.#registry.unbind(name, v);
    } catch (err) {
      entry.failure = (err as Error).message;
      const serving = this.#registry.versionsOf(name);
      this.#log.error(
        { model: name, err: entry.failure, ...(serving.length > 0 && { stillServing: serving }) },
        serving.length > 0
          ? "model failed to reload; the loaded version keeps serving"
          : "model failed to load",
      );
      throw err;
    }
    entry.definition = definition;
    entry.failure = undefined;
    entry.loaded = true;
    this.#log.info(
      {
        model: name,
        backend: definition.backend,
        versions: definition.versions.map((o) => String(o.version)),
      },
      "model loaded",
    );
  }

  async #unload(name: string): Promise<void> {
    const entry = this.#entries.get(name);
    if (entry) entry.loaded = false;
    if (this.#registry.versionsOf(name).length > 0) await this.#registry.unbind(name);
  }

  /** Triton's `file:<path>` load parameters: the model directory is made of them alone. */
  #writeOverrideFiles(name: string, files: Readonly<Record<string, Uint8Array>>): string {
    const dir = join(this.#runtimeDir, "repository-overrides", `${name}-${++this.#overrideCount}`);
    for (const [rel, content] of Object.entries(files)) {
      const target = resolve(dir, rel);
      if (!target.startsWith(dir + sep))
        throw new InvalidArgumentError(
          `failed to load '${name}': file override path '${rel}' leaves the model directory`,
        );
      mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
      writeFileSync(target, content);
    }
    return dir;
  }

  /** 0 for models that call no other model, 1 for ensembles (loaded after their steps). */
  #rank(name: string): number {
    const dir = this.#entries.get(name)?.dir;
    if (dir === undefined) return 0;
    try {
      const text = existsSync(join(dir, "config.pbtxt"))
        ? readFileSync(join(dir, "config.pbtxt"), "utf8")
        : "";
      return /platform\s*:\s*"ensemble"/.test(text) ? 1 : 0;
    } catch {
      return 0;
    }
  }
}

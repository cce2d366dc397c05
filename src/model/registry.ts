import type { BackendStartContext } from "../core/backend.js";
import { ConfigError, NotFoundError, unknownModelError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { type BindOptions, Model } from "./model.js";

type LoadContext = Omit<BackendStartContext, "model" | "version">;

/**
 * Name + version → Model. Models bound before the registry is started are loaded by
 * `start()`; models bound afterwards load at once (and report failures in the log and in
 * the repository index rather than throwing at the caller).
 *
 * @example
 * const registry = new Registry();
 * bind({ name: "doubler", fn: double, inputs, outputs }, registry);
 * const server = await serve({ registry });
 */
export class Registry {
  readonly #models = new Map<string, Map<string, Model>>();
  #context: LoadContext | undefined;

  /** Adds a model version. Throws ConfigError for a bad definition or a duplicate name+version. */
  bind(options: BindOptions): Model {
    const model = new Model(options);
    let versions = this.#models.get(model.name);
    if (versions?.has(model.version)) {
      throw new ConfigError(
        `model '${model.name}' version ${model.version} is already bound; unbind it first`,
      );
    }
    if (!versions) {
      versions = new Map();
      this.#models.set(model.name, versions);
    }
    versions.set(model.version, model);
    if (this.#context) {
      const log: Logger = this.#context.log;
      model.load(this.#context).then(
        () => log.info({ model: model.name, version: model.version }, "model loaded"),
        (err: Error) =>
          log.error({ model: model.name, version: model.version, err: err.message }, "model failed to load"),
      );
    }
    return model;
  }

  /**
   * Loads `options` as a new model and only then swaps it in for the one serving under the same
   * name and version (if any), which drains: no request is dropped by a reload. When the new one
   * fails to load, it is thrown and the old one keeps serving. Needs a started registry.
   */
  async replace(options: BindOptions): Promise<Model> {
    const context = this.#context;
    if (!context) throw new ConfigError("models are replaced only while the registry is started");
    const model = new Model(options);
    await model.load(context);
    if (this.#context !== context) {
      await model.unload(); // the registry stopped while this one was loading
      throw new ConfigError(`model '${model.name}' was loaded while the server stopped`);
    }
    let versions = this.#models.get(model.name);
    if (!versions) {
      versions = new Map();
      this.#models.set(model.name, versions);
    }
    const old = versions.get(model.version);
    versions.set(model.version, model);
    await old?.unload();
    return model;
  }

  /** Removes a model (all versions when `version` is undefined), draining its requests first. */
  async unbind(name: string, version?: string | number): Promise<void> {
    const versions = this.#models.get(name);
    if (!versions) throw unknownModelError(name);
    const targets = version === undefined ? [...versions.values()] : [versions.get(String(version))];
    if (targets.some((m) => m === undefined)) throw unknownModelError(name, String(version));
    for (const m of targets as Model[]) versions.delete(m.version);
    if (versions.size === 0) this.#models.delete(name);
    await Promise.all((targets as Model[]).map((m) => m.unload()));
  }

  /** The requested version, or the latest when none is given. Throws NotFoundError with Triton's wording. */
  get(name: string, version?: string): Model {
    const versions = this.#models.get(name);
    if (!versions || versions.size === 0) throw unknownModelError(name, version);
    if (version === undefined || version === "") return latest(versions);
    if (!/^[0-9]+$/.test(version))
      throw new NotFoundError(`Request for unknown model: '${name}' version ${version} is not found`);
    const m = versions.get(String(Number.parseInt(version, 10)));
    if (!m) throw unknownModelError(name, version);
    return m;
  }

  /** Every model version, sorted by name then version. */
  list(): Model[] {
    return [...this.#models.keys()]
      .sort()
      .flatMap((name) =>
        [...this.#models.get(name)!.values()].sort((a, b) => Number(a.version) - Number(b.version)),
      );
  }

  versionsOf(name: string): string[] {
    return [...(this.#models.get(name)?.keys() ?? [])].sort((a, b) => Number(a) - Number(b));
  }

  get started(): boolean {
    return this.#context !== undefined;
  }

  /** Loads every bound model; rejects with the first load failure. */
  async start(context: LoadContext): Promise<void> {
    this.#context = context;
    await Promise.all(this.list().map((m) => m.load(context)));
  }

  /** Drains and unloads every model. The models stay bound, so a later start() reloads them. */
  async stop(): Promise<void> {
    this.#context = undefined;
    const models = this.list();
    await Promise.all(models.map((m) => m.unload()));
    // Forget the finished instances so a restart creates fresh backends.
    for (const m of models) {
      const versions = this.#models.get(m.name)!;
      versions.delete(m.version);
      versions.set(m.version, m.fresh());
    }
  }
}

function latest(versions: Map<string, Model>): Model {
  let best: Model | undefined;
  for (const m of versions.values()) if (!best || Number(m.version) > Number(best.version)) best = m;
  return best!;
}

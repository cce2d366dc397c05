import { readFile } from "node:fs/promises";
import { builtinModules } from "node:module";
import { dirname } from "node:path";
import { pathToFileURL } from "node:url";
import type { BuildFailure, Plugin } from "esbuild";
import { ConfigError } from "../core/errors.js";

// This package's own entry: a model module's `import "tensorbind"` means the CLI that runs it,
// wherever the module lives (a folder without node_modules, a global install, npx).
const SELF = new URL("../index.js", import.meta.url).href;

/**
 * Imports a TypeScript model module with no build step.
 *
 * The fast way: esbuild bundles the module with its local imports into one ES module, leaves
 * every package (tensorbind included) to Node as an absolute file URL, gives each bundled file its
 * own `import.meta.url`, and the result is imported from a `data:` URL. Registering tsx's loader
 * instead sends every later import of the process (the backends, grpc-js, apache-arrow) through a
 * loader thread: about 0.8 s more to start a server. tsx remains the fallback when the bundle
 * cannot be made, since it handles whatever Node can load; TENSORBIND_TS_LOADER=esbuild or =tsx
 * picks one of the two without the other.
 */
export async function importTypeScript(path: string, whileBundling?: () => void): Promise<void> {
  const loader = process.env.TENSORBIND_TS_LOADER; // "esbuild" or "tsx" to use only that one
  if (loader !== "tsx") {
    const code = await bundle(path, whileBundling).catch((err: unknown) => {
      // A mistake in the module (syntax, an import that does not resolve) is reported as such;
      // only what esbuild cannot bundle at all goes on to tsx.
      const mistake = describeBuildFailure(err);
      if (mistake !== undefined) throw new ConfigError(mistake, { cause: err });
      if (loader === "esbuild") throw err;
      return undefined;
    });
    if (code !== undefined) {
      await import(`data:text/javascript;base64,${Buffer.from(code).toString("base64")}`);
      return;
    }
    if (loader === "esbuild") throw new Error("esbuild is not installed");
  }
  const { register } = await import("tsx/esm/api");
  register();
  await import(pathToFileURL(path).href);
}

/** The module and its local imports as one ES module; undefined when esbuild is not there. */
async function bundle(path: string, whileBundling?: () => void): Promise<string | undefined> {
  const esbuild = await import("esbuild").catch(() => undefined);
  if (esbuild === undefined) return undefined;
  // esbuild's service process (~12 MB) is needed only while bundling: stop it once done, or it
  // stays for the server's whole life.
  const building = esbuild
    .build({
      entryPoints: [path],
      bundle: true,
      write: false,
      platform: "node",
      format: "esm",
      target: "node20",
      sourcemap: "inline",
      logLevel: "silent",
      plugins: [packagesByUrl(), ownImportMeta()],
    })
    .finally(() => esbuild.stop());
  // The request is on its way to esbuild's process: this thread may do other work meanwhile.
  whileBundling?.();
  const result = await building;
  return result.outputFiles[0]?.text;
}

/** `file:line:column: what` and the fix for esbuild's errors, when they are the module's own. */
export function describeBuildFailure(err: unknown): string | undefined {
  const errors = (err as Partial<BuildFailure>)?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return undefined;
  const lines: string[] = [];
  for (const e of errors) {
    if (/No loader is configured/.test(e.text)) return undefined; // e.g. a .node import: tsx's job
    const at = e.location ? `${e.location.file}:${e.location.line}:${e.location.column + 1}: ` : "";
    const pkg = /^Could not resolve "([^"]+)"/.exec(e.text)?.[1];
    if (pkg === undefined) {
      lines.push(`${at}${e.text}`);
      continue;
    }
    const name = pkg.startsWith("@") ? pkg.split("/").slice(0, 2).join("/") : (pkg.split("/")[0] ?? pkg);
    const local = pkg.startsWith(".") || pkg.startsWith("/");
    lines.push(
      local
        ? `${at}cannot find the file "${pkg}" (paths are relative to the importing file)`
        : `${at}cannot resolve "${pkg}": run \`npm install ${name}\` in the module's folder (or a folder above it)`,
    );
  }
  return lines.join("\n");
}

const BUILTINS = new Set(builtinModules);

/**
 * Bare imports stay imports, of the file Node would load, as an absolute URL (a data: module has no
 * base); packages written in TypeScript are bundled instead.
 */
function packagesByUrl(): Plugin {
  return {
    name: "tensorbind-packages-by-url",
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === "inner") return undefined;
        if (args.path === "tensorbind") return { path: SELF, external: true };
        if (args.path.startsWith("node:") || BUILTINS.has(args.path.split("/")[0] ?? "")) {
          return { path: args.path, external: true };
        }
        const r = await build.resolve(args.path, {
          kind: args.kind,
          resolveDir: args.resolveDir,
          importer: args.importer,
          pluginData: "inner",
        });
        if (r.errors.length > 0) return { errors: r.errors };
        // A package whose entry is TypeScript (a workspace package) is bundled: Node cannot load it.
        if (/\.[cm]?tsx?$/.test(r.path)) return { path: r.path };
        return { path: pathToFileURL(r.path).href, external: true };
      });
    },
  };
}

/** `import.meta.url`, `.dirname` and `.filename` of each bundled file keep meaning that file. */
function ownImportMeta(): Plugin {
  return {
    name: "tensorbind-own-import-meta",
    setup(build) {
      build.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, async (args) => {
        const source = await readFile(args.path, "utf8");
        const contents = source
          .replace(/\bimport\.meta\.url\b/g, JSON.stringify(pathToFileURL(args.path).href))
          .replace(/\bimport\.meta\.dirname\b/g, JSON.stringify(dirname(args.path)))
          .replace(/\bimport\.meta\.filename\b/g, JSON.stringify(args.path));
        const ext = /\.([cm]?)([jt]sx?)$/.exec(args.path)?.[2] ?? "ts";
        return { contents, loader: ext as "ts" | "tsx" | "js" | "jsx", resolveDir: dirname(args.path) };
      });
    },
  };
}

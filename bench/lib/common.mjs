// Small helpers every bench script uses: where the repository is, progress on stderr, number
// formatting, the median of pairs, and the checks that the build a bench needs is there.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (bench/lib/../..). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Progress goes to stderr, so that stdout holds only the report. */
export const log = (...m) => process.stderr.write(`[bench] ${m.join(" ")}\n`);

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `x` with `d` decimals, or "n/a" when a measurement failed (NaN, Infinity). */
export const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");

/**
 * The median of the finite values of `xs` (a failed run's NaN is left out), the mean of the two
 * middle values for an even count; NaN when none is finite. Example: median([3, NaN, 1, 2, 4]) = 2.5.
 */
export function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Exits with status 2 and says what to run when a file a bench needs is missing.
 * `needs`: [what, path] pairs; a relative path is taken from `root` (default: the repository).
 * Example: requireFiles([["dist/ (npm run build)", "dist/cli/main.js"]]).
 */
export function requireFiles(needs, root = REPO) {
  let missing = false;
  for (const [what, p] of needs) {
    const path = isAbsolute(p) ? p : join(root, p);
    if (!existsSync(path)) {
      log(`missing ${what}: ${path}`);
      missing = true;
    }
  }
  if (missing) process.exit(2);
}

/** The machine in one line, for reports: CPU model × count, Node version, load average (1 min). */
export function machineLine({ load = true } = {}) {
  const c = cpus();
  const parts = [`${c[0]?.model ?? "unknown CPU"} × ${c.length}`, `node ${process.version}`];
  if (load) parts.push(`load average ${loadavg()[0].toFixed(2)}`);
  return parts.join(", ");
}

/** A temporary directory removed when the process exits, however it exits. */
export function workDir(prefix = "tb-bench-") {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

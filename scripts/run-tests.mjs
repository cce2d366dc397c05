#!/usr/bin/env node
// Runs every test suite — vitest (unit + integration) and pytest (the Python package and the
// real-client conformance suite) — and ends with one summary line: "N passed, N failed".
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const artifacts = join(root, "test-artifacts");
mkdirSync(artifacts, { recursive: true });
const python = process.env.TENSORBIND_PYTHON ?? join(root, ".venv/bin/python");
const results = [];

function vitest() {
  const out = join(artifacts, "vitest.json");
  rmSync(out, { force: true }); // a report left by an earlier run must not stand in for this one
  const r = spawnSync(
    process.execPath,
    [join(root, "node_modules/vitest/vitest.mjs"), "run", "--reporter=default", "--reporter=json", `--outputFile=${out}`],
    { cwd: root, stdio: "inherit", env: { ...process.env, TENSORBIND_PYTHON: python } },
  );
  if (!existsSync(out)) return { name: "vitest", passed: 0, failed: 1, skipped: 0, note: `exit ${r.status}` };
  const j = JSON.parse(readFileSync(out, "utf8"));
  // A suite that failed to load counts as a failure even though none of its tests ran.
  const brokenFiles = (j.testResults ?? []).filter((f) => f.status === "failed" && (f.assertionResults ?? []).length === 0).length;
  const failed = j.numFailedTests + brokenFiles;
  // Unhandled errors fail the run (non-zero exit) without failing a test: still a failure.
  const aborted = r.status !== 0 && failed === 0;
  return {
    name: "vitest",
    passed: j.numPassedTests,
    failed: aborted ? 1 : failed,
    skipped: j.numPendingTests + j.numTodoTests,
    ...(aborted ? { note: `vitest exited ${r.status ?? r.signal} with no failed test` } : {}),
  };
}

function pytest(name, dir) {
  if (!existsSync(join(root, dir))) return undefined;
  if (!existsSync(python)) return { name, passed: 0, failed: 1, skipped: 0, note: "no .venv: run `bash scripts/setup-python.sh`" };
  const xml = join(artifacts, `${name}.xml`);
  rmSync(xml, { force: true }); // a report left by an earlier run must not stand in for this one
  const r = spawnSync(python, ["-m", "pytest", dir, "-q", "-p", "no:cacheprovider", `--junitxml=${xml}`], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, PATH: `${dirname(python)}:${process.env.PATH}` },
  });
  if (!existsSync(xml)) return { name, passed: 0, failed: 1, skipped: 0, note: "pytest did not run" };
  const text = readFileSync(xml, "utf8");
  const attr = (a) => [...text.matchAll(new RegExp(`<testsuite [^>]*\\b${a}="(\\d+)"`, "g"))].reduce((s, m) => s + Number(m[1]), 0);
  const tests = attr("tests");
  const failed = attr("failures") + attr("errors");
  const skipped = attr("skipped");
  // A session that pytest ended early (pytest.exit, an internal error, a crash, nothing collected)
  // can leave a report with no failure in it: its non-zero exit status still counts as a failure.
  if (r.status !== 0 && failed === 0) {
    const note = `pytest exited ${r.status ?? r.signal} with no failure recorded`;
    return { name, passed: tests - skipped, failed: 1, skipped, note };
  }
  return { name, passed: tests - failed - skipped, failed, skipped };
}

const only = process.argv.slice(2);
const want = (n) => only.length === 0 || only.includes(n);
if (want("vitest")) results.push(vitest());
if (want("python")) results.push(pytest("python-package", "python/tests"));
if (want("conformance")) results.push(pytest("conformance", "test/conformance"));

let passed = 0;
let failed = 0;
let skipped = 0;
console.log("\n── test summary ──");
for (const r of results.filter(Boolean)) {
  console.log(`${r.name.padEnd(16)} ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped${r.note ? ` (${r.note})` : ""}`);
  passed += r.passed;
  failed += r.failed;
  skipped += r.skipped;
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);

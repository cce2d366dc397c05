// scripts/install-perf-analyzer.sh takes its Debian mirror from the machine's apt configuration
// (a site may reach only its own mirror) and never from a host written into the repository.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";

const run = promisify(execFile);
const SCRIPT = join(ROOT, "scripts/install-perf-analyzer.sh");
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function aptEtc(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "tb-apt-"));
  dirs.push(dir);
  mkdirSync(join(dir, "sources.list.d"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

async function mirror(env: Record<string, string>): Promise<{ code: number; out: string }> {
  return run("bash", [SCRIPT, "--print-mirror"], { env: { ...process.env, DEBIAN_MIRROR: "", ...env } }).then(
    (r) => ({ code: 0, out: r.stdout.trim() }),
    (e: { code: number; stderr: string }) => ({ code: e.code, out: e.stderr.trim() }),
  );
}

describe("install-perf-analyzer.sh's Debian mirror", () => {
  it("is the main archive of a deb822 .sources file, not its security suite", async () => {
    const etc = aptEtc({
      "sources.list.d/site.sources": [
        "Types: deb",
        "URIs: http://security.site.example/debian-security",
        "Suites: bookworm-security",
        "Components: main",
        "",
        "Types: deb",
        "URIs: http://mirror.site.example/debian",
        "Suites: bookworm bookworm-updates",
        "Components: main",
        "",
      ].join("\n"),
    });
    expect(await mirror({ APT_ETC: etc })).toEqual({ code: 0, out: "http://mirror.site.example/debian" });
  });

  it("reads one-line sources.list entries with options", async () => {
    const etc = aptEtc({
      "sources.list":
        "# site mirror\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.site.example/debian/ bookworm main\n",
    });
    expect(await mirror({ APT_ETC: etc })).toEqual({ code: 0, out: "http://mirror.site.example/debian" });
  });

  it("DEBIAN_MIRROR still wins; no configuration at all says how to set it", async () => {
    const etc = aptEtc({});
    expect(await mirror({ APT_ETC: etc, DEBIAN_MIRROR: "http://other.example/debian" })).toEqual({
      code: 0,
      out: "http://other.example/debian",
    });
    const none = await mirror({ APT_ETC: etc });
    expect(none.code).not.toBe(0);
    expect(none.out).toMatch(/no Debian mirror in .*; set DEBIAN_MIRROR=/);
  });

  it("writes no registry host into the repository", () => {
    expect(readFileSync(SCRIPT, "utf8")).not.toMatch(/https?:\/\/[a-z0-9.-]+\.(org|com|net)\b/);
  });
});

import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/**
 * What a model directory looks like on disk: every file's path, size and modification time
 * (three levels deep: config, versions, their files). Two equal fingerprints mean "nothing to
 * reload"; `undefined` when the directory is gone.
 */
export function fingerprint(dir: string): string | undefined {
  const parts: string[] = [];
  const walk = (path: string, rel: string, depth: number): void => {
    for (const name of readdirSync(path).sort()) {
      if (name.startsWith(".") || name === "__pycache__") continue;
      const full = join(path, name);
      let st: ReturnType<typeof statSync>;
      try {
        st = statSync(full);
      } catch {
        continue; // removed while we looked
      }
      if (st.isDirectory()) {
        parts.push(`${rel}${name}/`);
        if (depth < 3) walk(full, `${rel}${name}/`, depth + 1);
      } else parts.push(`${rel}${name}:${st.size}:${st.mtimeMs}`);
    }
  };
  try {
    walk(dir, "", 1);
  } catch {
    return undefined;
  }
  return parts.join("\n");
}

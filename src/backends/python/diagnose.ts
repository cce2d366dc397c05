/**
 * Turns a Python start-up failure (a traceback, a worker's stderr) into the one line a user
 * needs: what went wrong and the command that fixes it. The traceback itself goes with the
 * error as its cause (`PythonTraceback`), shown at debug level.
 */

// Import names whose pip package has another name.
const PIP_NAMES: Readonly<Record<string, string>> = {
  zmq: "pyzmq",
  yaml: "pyyaml",
  cv2: "opencv-python",
  sklearn: "scikit-learn",
  PIL: "pillow",
};
// What every worker imports: installing them together fixes the next missing one too.
const WORKER_NEEDS = ["numpy", "pyzmq", "pyarrow"];

/** The full Python traceback behind a one-line error. */
export class PythonTraceback extends Error {
  constructor(text: string) {
    super(text.trimEnd());
    this.name = "PythonTraceback";
  }
}

/** The exception line of a traceback (`ValueError: …`), else the last non-empty line. */
export function exceptionLine(output: string): string | undefined {
  const lines = output
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== "");
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i]!.replace(/^\[[^\]]*\] /, "");
    if (/^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)?: /.test(l) && !l.startsWith(" ")) return l;
  }
  return lines.at(-1)?.trim();
}

/** One line with the fix, or undefined when the output holds no Python error. */
export function explainPythonFailure(output: string, interpreter: string): string | undefined {
  const missing = /No module named '([\w.]+)'/.exec(output)?.[1];
  if (missing !== undefined) {
    const root = missing.split(".")[0]!;
    if (root === "tensorbind") {
      return `'${interpreter}' cannot import the tensorbind Python package: pip install tensorbind into it, or pass --python <interpreter>`;
    }
    const pip = PIP_NAMES[root] ?? root;
    const packages = WORKER_NEEDS.includes(pip) ? WORKER_NEEDS.join(" ") : pip;
    return `'${interpreter}' has no module '${root}': run \`${interpreter} -m pip install ${packages}\`, or pass --python <a Python that has it>`;
  }
  return exceptionLine(output);
}

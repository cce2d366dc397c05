import { InvalidArgumentError, isTensorbindError } from "../../core/errors.js";

/**
 * JSON.parse, except that integers too large for a double keep their exact value as a
 * BigInt (INT64/UINT64 tensors in JSON). The fast built-in parser is used unless the text
 * holds a run of 16+ digits, so common requests pay nothing for this.
 */
export function parseJson(text: string): unknown {
  try {
    if (!/\d{16,}/.test(text)) return JSON.parse(text);
    return new PreciseParser(text).parseDocument();
  } catch (err) {
    if (isTensorbindError(err, "TB_ERR_INVALID_ARG")) throw err;
    throw new InvalidArgumentError(`malformed JSON in request: ${(err as Error).message}`);
  }
}

const MAX_DEPTH = 512;

class PreciseParser {
  #i = 0;
  readonly #s: string;
  constructor(s: string) {
    this.#s = s;
  }

  parseDocument(): unknown {
    const v = this.#value(0);
    this.#ws();
    if (this.#i !== this.#s.length) this.#fail("unexpected trailing characters");
    return v;
  }

  #fail(msg: string): never {
    throw new InvalidArgumentError(`malformed JSON in request: ${msg} at position ${this.#i}`);
  }

  #ws(): void {
    const s = this.#s;
    while (this.#i < s.length) {
      const c = s.charCodeAt(this.#i);
      if (c === 32 || c === 10 || c === 13 || c === 9) this.#i++;
      else break;
    }
  }

  #value(depth: number): unknown {
    if (depth > MAX_DEPTH) this.#fail("nesting too deep");
    this.#ws();
    const c = this.#s[this.#i];
    if (c === "{") return this.#object(depth);
    if (c === "[") return this.#array(depth);
    if (c === '"') return this.#string();
    if (c === "t") return this.#literal("true", true);
    if (c === "f") return this.#literal("false", false);
    if (c === "n") return this.#literal("null", null);
    return this.#number();
  }

  #literal<T>(word: string, value: T): T {
    if (this.#s.startsWith(word, this.#i)) {
      this.#i += word.length;
      return value;
    }
    return this.#fail("unexpected token");
  }

  #object(depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.#i++;
    this.#ws();
    if (this.#s[this.#i] === "}") {
      this.#i++;
      return out;
    }
    for (;;) {
      this.#ws();
      if (this.#s[this.#i] !== '"') this.#fail("expected a string key");
      const key = this.#string();
      this.#ws();
      if (this.#s[this.#i] !== ":") this.#fail("expected ':'");
      this.#i++;
      Object.defineProperty(out, key, {
        value: this.#value(depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      this.#ws();
      const c = this.#s[this.#i++];
      if (c === "}") return out;
      if (c !== ",") this.#fail("expected ',' or '}'");
    }
  }

  #array(depth: number): unknown[] {
    const out: unknown[] = [];
    this.#i++;
    this.#ws();
    if (this.#s[this.#i] === "]") {
      this.#i++;
      return out;
    }
    for (;;) {
      out.push(this.#value(depth + 1));
      this.#ws();
      const c = this.#s[this.#i++];
      if (c === "]") return out;
      if (c !== ",") this.#fail("expected ',' or ']'");
    }
  }

  #string(): string {
    // Find the closing quote, then let JSON.parse handle escapes correctly.
    const start = this.#i;
    let i = start + 1;
    const s = this.#s;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (c === 92) i += 2;
      else if (c === 34) break;
      else i++;
    }
    if (i >= s.length) this.#fail("unterminated string");
    this.#i = i + 1;
    return JSON.parse(s.slice(start, i + 1)) as string;
  }

  #number(): number | bigint {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.#s.slice(this.#i, this.#i + 400));
    if (!m) return this.#fail("unexpected token");
    this.#i += m[0].length;
    if (m[2] === undefined && m[3] === undefined) {
      const n = Number(m[0]);
      return Number.isSafeInteger(n) ? n : BigInt(m[0]);
    }
    return Number(m[0]);
  }
}

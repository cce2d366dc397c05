import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";
import { ConfigError } from "../core/errors.js";

/**
 * Reads `config.pbtxt` (protobuf text format) against Triton's own `ModelConfig` message.
 *
 * protobufjs (and the other maintained JS protobuf libraries) read .proto schemas and the
 * binary and JSON forms but not the text form, so the text grammar (a few token kinds) is
 * tokenised here and everything else comes from the schema: field names, which are repeated,
 * maps and oneofs, scalar types, enum values. The result is the protobuf JSON form with the
 * proto's field names (what Triton returns from /config), holding only the fields that were set.
 */

// This module sits two levels below the package root both as src/repository/*.ts and as
// dist/repository/*.js; the .proto files ship under src/ in either case.
const PROTO = fileURLToPath(new URL("../../src/frontends/grpc/proto/model_config.proto", import.meta.url));

let modelConfigType: protobuf.Type | undefined;

function schema(): protobuf.Type {
  if (!modelConfigType) {
    const root = new protobuf.Root().loadSync(PROTO, { keepCase: true });
    modelConfigType = root.lookupType("inference.ModelConfig");
  }
  return modelConfigType;
}

type Json = string | number | boolean | JsonObject | Json[];
export interface JsonObject {
  [key: string]: Json;
}

interface Token {
  readonly kind: "ident" | "number" | "string" | "punct" | "eof";
  readonly text: string;
  /** For strings: the unescaped value. */
  readonly value: string;
  readonly line: number;
  readonly col: number;
}

/** Parses text-format `text` as a ModelConfig; errors name `file:line:column`. */
export function parseModelConfigText(text: string, file = "config.pbtxt"): JsonObject {
  return new Parser(text, file).parse(schema());
}

const ESCAPES: Record<string, string> = {
  n: "\n",
  t: "\t",
  r: "\r",
  "\\": "\\",
  "'": "'",
  '"': '"',
  a: "\x07",
  b: "\b",
  f: "\f",
  v: "\v",
  "?": "?",
};

class Parser {
  readonly #tokens: Token[];
  #pos = 0;
  readonly #file: string;

  constructor(text: string, file: string) {
    this.#file = file;
    this.#tokens = this.#tokenize(text);
  }

  parse(type: protobuf.Type): JsonObject {
    const out = this.#message(type, "eof");
    return out;
  }

  #fail(t: Token, message: string): never {
    throw new ConfigError(`${this.#file}:${t.line}:${t.col}: ${message}`);
  }

  #tokenize(text: string): Token[] {
    const tokens: Token[] = [];
    let i = 0;
    let line = 1;
    let lineStart = 0;
    const at = () => ({ line, col: i - lineStart + 1 });
    while (i < text.length) {
      const c = text[i]!;
      if (c === "\n") {
        i++;
        line++;
        lineStart = i;
      } else if (c === " " || c === "\t" || c === "\r") i++;
      else if (c === "#") {
        while (i < text.length && text[i] !== "\n") i++;
      } else if (/[A-Za-z_]/.test(c)) {
        const start = i;
        const pos = at();
        while (i < text.length && /[A-Za-z0-9_.]/.test(text[i]!)) i++;
        tokens.push({ kind: "ident", text: text.slice(start, i), value: "", ...pos });
      } else if (/[-+0-9.]/.test(c)) {
        const start = i;
        const pos = at();
        i++;
        while (i < text.length && /[A-Za-z0-9_.+-]/.test(text[i]!)) {
          // An exponent sign belongs to the number; any other sign starts a new token.
          if ((text[i] === "-" || text[i] === "+") && !/[eE]/.test(text[i - 1]!)) break;
          i++;
        }
        tokens.push({ kind: "number", text: text.slice(start, i), value: "", ...pos });
      } else if (c === '"' || c === "'") {
        const pos = at();
        const start = i;
        let value = "";
        i++;
        while (i < text.length && text[i] !== c) {
          if (text[i] === "\n")
            this.#fail({ kind: "eof", text: "", value: "", ...pos }, "unterminated string");
          if (text[i] === "\\") {
            const e = text[i + 1] ?? "";
            if (e in ESCAPES) {
              value += ESCAPES[e];
              i += 2;
            } else if (/[0-7]/.test(e)) {
              const m = /^[0-7]{1,3}/.exec(text.slice(i + 1))![0];
              value += String.fromCharCode(Number.parseInt(m, 8));
              i += 1 + m.length;
            } else if (e === "x") {
              const m = /^[0-9A-Fa-f]{1,2}/.exec(text.slice(i + 2))?.[0] ?? "";
              value += String.fromCharCode(Number.parseInt(m || "0", 16));
              i += 2 + m.length;
            } else this.#fail({ kind: "eof", text: "", value: "", ...at() }, `invalid escape '\\${e}'`);
          } else value += text[i++];
        }
        if (i >= text.length) this.#fail({ kind: "eof", text: "", value: "", ...pos }, "unterminated string");
        i++;
        tokens.push({ kind: "string", text: text.slice(start, i), value, ...pos });
      } else if ("{}<>[]:,;".includes(c)) {
        tokens.push({ kind: "punct", text: c, value: "", ...at() });
        i++;
      } else {
        this.#fail({ kind: "eof", text: "", value: "", ...at() }, `unexpected character '${c}'`);
      }
    }
    tokens.push({ kind: "eof", text: "end of file", value: "", ...at() });
    return tokens;
  }

  #peek(): Token {
    return this.#tokens[this.#pos]!;
  }
  #next(): Token {
    return this.#tokens[this.#pos++]!;
  }
  #accept(punct: string): boolean {
    const t = this.#peek();
    if (t.kind === "punct" && t.text === punct) {
      this.#pos++;
      return true;
    }
    return false;
  }
  #expect(punct: string): void {
    const t = this.#next();
    if (t.kind !== "punct" || t.text !== punct) this.#fail(t, `expected '${punct}', found '${t.text}'`);
  }

  /** Fields until `end` ("}", ">" or "eof"). */
  #message(type: protobuf.Type, end: string): JsonObject {
    const out: JsonObject = {};
    const oneofSet = new Map<string, string>();
    for (;;) {
      const t = this.#peek();
      if (end === "eof" ? t.kind === "eof" : t.kind === "punct" && t.text === end) {
        this.#pos++;
        return out;
      }
      if (t.kind === "eof") this.#fail(t, `expected '${end}' to close ${type.name}`);
      if (t.kind !== "ident") this.#fail(t, `expected a field name of ${type.name}, found '${t.text}'`);
      this.#pos++;
      const field = type.fields[t.text];
      if (!field) this.#fail(t, `${type.name} has no field '${t.text}'`);
      field.resolve();
      if (field.partOf) {
        const other = oneofSet.get(field.partOf.name);
        if (other !== undefined && other !== field.name)
          this.#fail(t, `'${field.name}' and '${other}' cannot both be set (oneof ${field.partOf.name})`);
        oneofSet.set(field.partOf.name, field.name);
      }
      const isMessage = field.resolvedType instanceof protobuf.Type;
      if (!isMessage || field.map) {
        if (!field.map) this.#expect(":");
        else this.#accept(":");
      } else this.#accept(":");
      const values: Json[] = [];
      if (this.#accept("[")) {
        if (!field.repeated && !field.map)
          this.#fail(t, `'${field.name}' is not repeated: a list is not allowed`);
        if (!this.#accept("]")) {
          do values.push(this.#value(field, t));
          while (this.#accept(","));
          this.#expect("]");
        }
      } else values.push(this.#value(field, t));
      if (field.map) {
        out[field.name] ??= {};
        const map = out[field.name] as JsonObject;
        for (const entry of values as [string, Json][]) map[entry[0]] = entry[1];
      } else if (field.repeated) {
        out[field.name] ??= [];
        (out[field.name] as Json[]).push(...values);
      } else {
        if (field.name in out) this.#fail(t, `'${field.name}' is set more than once`);
        out[field.name] = values[0]!;
      }
      if (!this.#accept(",")) this.#accept(";");
    }
  }

  #value(field: protobuf.Field, at: Token): Json {
    if (field.map) {
      // A map entry is written as a message { key: … value: … }.
      const open = this.#next();
      if (open.kind !== "punct" || (open.text !== "{" && open.text !== "<"))
        this.#fail(open, `expected '{' for an entry of map '${field.name}'`);
      const close = open.text === "{" ? "}" : ">";
      let key: string | undefined;
      let value: Json | undefined;
      while (!this.#accept(close)) {
        const name = this.#next();
        if (name.kind !== "ident" || (name.text !== "key" && name.text !== "value"))
          this.#fail(name, `expected 'key' or 'value' in an entry of map '${field.name}'`);
        if (name.text === "key") {
          this.#expect(":");
          key = String(this.#scalar((field as unknown as protobuf.MapField).keyType, null, name));
        } else if (field.resolvedType instanceof protobuf.Type) {
          this.#accept(":");
          value = this.#submessage(field.resolvedType);
        } else {
          this.#expect(":");
          value = this.#scalar(field.type, field.resolvedType, name);
        }
        if (!this.#accept(",")) this.#accept(";");
      }
      if (key === undefined) this.#fail(open, `an entry of map '${field.name}' needs a key`);
      return [key, value ?? (field.resolvedType instanceof protobuf.Type ? {} : "")] as unknown as Json;
    }
    if (field.resolvedType instanceof protobuf.Type) return this.#submessage(field.resolvedType);
    return this.#scalar(field.type, field.resolvedType, at);
  }

  #submessage(type: protobuf.Type): JsonObject {
    const open = this.#next();
    if (open.kind !== "punct" || (open.text !== "{" && open.text !== "<"))
      this.#fail(open, `expected '{' to open ${type.name}, found '${open.text}'`);
    return this.#message(type, open.text === "{" ? "}" : ">");
  }

  #scalar(type: string, resolved: protobuf.ReflectionObject | null, at: Token): Json {
    const t = this.#next();
    if (resolved instanceof protobuf.Enum) {
      if (t.kind === "ident" && t.text in resolved.values) return t.text;
      if (t.kind === "number") {
        const name = resolved.valuesById[Number(t.text)];
        if (name !== undefined) return name;
      }
      this.#fail(t, `'${t.text}' is not a value of ${resolved.name} (field '${at.text}')`);
    }
    switch (type) {
      case "string":
      case "bytes": {
        if (t.kind !== "string") this.#fail(t, `'${at.text}' needs a quoted string, found '${t.text}'`);
        let s = t.value;
        // Adjacent strings concatenate, as in C.
        while (this.#peek().kind === "string") s += this.#next().value;
        return s;
      }
      case "bool":
        if (t.kind === "ident" && /^(true|True|t)$/.test(t.text)) return true;
        if (t.kind === "ident" && /^(false|False|f)$/.test(t.text)) return false;
        if (t.kind === "number" && (t.text === "1" || t.text === "0")) return t.text === "1";
        return this.#fail(t, `'${at.text}' needs true or false, found '${t.text}'`);
      case "float":
      case "double": {
        if (t.kind === "ident" && /^-?(inf|infinity|nan)$/i.test(t.text))
          return Number(t.text.replace(/inf(inity)?/i, "Infinity").replace(/nan/i, "NaN"));
        const n = Number(t.text.replace(/[fF]$/, ""));
        if (t.kind !== "number" || Number.isNaN(n))
          this.#fail(t, `'${at.text}' needs a number, found '${t.text}'`);
        return n;
      }
      default: {
        // Every integer type: int32, int64, uint32, uint64, sint*, fixed*, sfixed*.
        const n = t.kind === "number" ? Number(t.text) : Number.NaN;
        if (!Number.isSafeInteger(n)) this.#fail(t, `'${at.text}' needs an integer, found '${t.text}'`);
        if (type.startsWith("u") && n < 0) this.#fail(t, `'${at.text}' cannot be negative`);
        return n;
      }
    }
  }
}

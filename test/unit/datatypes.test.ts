import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  DATATYPE_NAMES,
  DATATYPES,
  type DatatypeKind,
  datatypeFromConfigName,
  datatypeFromNativeCode,
} from "../../src/core/datatypes.js";
import { INTERPRETER, ROOT } from "../helpers/cli.js";

const TRITON_ORDER = [
  "BOOL",
  "UINT8",
  "UINT16",
  "UINT32",
  "UINT64",
  "INT8",
  "INT16",
  "INT32",
  "INT64",
  "FP16",
  "FP32",
  "FP64",
  "BYTES",
  "BF16",
];

describe("the datatype table", () => {
  it("holds exactly Triton's datatypes, named as model_config.proto names them", () => {
    const proto = readFileSync(join(ROOT, "src/frontends/grpc/proto/model_config.proto"), "utf8");
    const enumBody = /enum DataType \{([^}]*)\}/.exec(proto)![1]!;
    const names = [...enumBody.matchAll(/(TYPE_\w+) = (\d+);/g)]
      .filter((m) => m[1] !== "TYPE_INVALID")
      .map((m) => m[1]!);
    expect(names.map((n) => datatypeFromConfigName(n))).toEqual(TRITON_ORDER);
    expect([...DATATYPE_NAMES].sort()).toEqual([...TRITON_ORDER].sort());
  });

  it("gives the native contract's codes, as native/include/tensorbind/types.h declares them", () => {
    const header = readFileSync(join(ROOT, "native/include/tensorbind/types.h"), "utf8");
    const enumBody = /enum class DataType[^{]*\{([^}]*)\}/.exec(header)![1]!;
    const codes = [...enumBody.matchAll(/(\w+) = (\d+),/g)].map((m) => [m[1], Number(m[2])] as const);
    expect(codes.length).toBe(14);
    for (const [name, code] of codes) {
      expect(DATATYPES[name as keyof typeof DATATYPES].nativeCode).toBe(code);
      expect(datatypeFromNativeCode(code)).toBe(name);
    }
  });

  it("views each numeric datatype through a typed array of its size, holding exactly its range", () => {
    for (const d of DATATYPE_NAMES) {
      const info = DATATYPES[d];
      if (info.array === undefined) {
        expect(d).toBe("BYTES");
        continue;
      }
      expect(info.array.BYTES_PER_ELEMENT).toBe(info.size);
      if (info.range === undefined) continue;
      const arr = new info.array(2);
      const [lo, hi] = info.range;
      arr[0] = (info.bigint ? lo : Number(lo)) as never;
      arr[1] = (info.bigint ? hi : Number(hi)) as never;
      expect([BigInt(arr[0]!), BigInt(arr[1]!)]).toEqual([lo, hi]);
      arr[1] = (info.bigint ? hi + 1n : Number(hi) + 1) as never; // one past the top wraps
      expect(BigInt(arr[1]!)).toBe(lo);
    }
  });

  it("agrees with the Python side's table and with tritonclient's", () => {
    const script = `
import json, numpy as np
import tritonclient.utils as tc
from tensorbind.decorators import DATATYPES
from tensorbind._proxy.datatypes import BF16_DTYPE, NUMPY_DTYPES
def describe(dt):
    dt = np.dtype(dt)
    return ["bf16" if dt == BF16_DTYPE else dt.kind, dt.itemsize]
print(json.dumps({
    "names": sorted(DATATYPES),
    "numpy": {k: describe(v) for k, v in NUMPY_DTYPES.items()},
    "triton": {k: describe(tc.triton_to_np_dtype(k)) for k in sorted(DATATYPES)},
}))`;
    const out = execFileSync(INTERPRETER, ["-c", script], {
      encoding: "utf8",
      env: { ...process.env, PYTHONPATH: join(ROOT, "python") },
    });
    const py = JSON.parse(out) as {
      names: string[];
      numpy: Record<string, [string, number]>;
      triton: Record<string, [string, number]>;
    };
    expect(py.names).toEqual([...DATATYPE_NAMES].sort());
    const KIND: Record<DatatypeKind, string> = { bool: "b", uint: "u", int: "i", float: "f", bytes: "O" };
    const expected = (d: keyof typeof DATATYPES): [string, number] =>
      d === "BF16" ? ["bf16", 2] : d === "BYTES" ? ["O", 8] : [KIND[DATATYPES[d].kind], DATATYPES[d].size];
    for (const d of DATATYPE_NAMES) {
      if (d !== "BYTES") expect(py.numpy[d], `Python's ${d}`).toEqual(expected(d));
      expect(py.triton[d], `tritonclient's ${d}`).toEqual(expected(d));
    }
    expect(Object.keys(py.numpy).sort()).toEqual(DATATYPE_NAMES.filter((d) => d !== "BYTES").sort());
  });
});

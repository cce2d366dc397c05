import { afterEach, describe, expect, it } from "vitest";
import { supportsReusePort } from "../../src/config.js";
import { tensor } from "../../src/core/tensor-factory.js";
import type { BindOptions } from "../../src/model/model.js";
import { postAlone, startServer } from "../helpers/server.js";

/** Identities for large JSON tensors: their `data` is read and written by the addon on pool threads. */
const models: BindOptions[] = [
  {
    name: "id_fp32",
    inputs: { INPUT0: tensor("FP32", [-1]) },
    outputs: { OUTPUT0: tensor("FP32", [-1]) },
    fn: ({ INPUT0 }) => ({ OUTPUT0: INPUT0! }),
  },
  {
    name: "id_int64",
    inputs: { INPUT0: tensor("INT64", [-1, -1]) },
    outputs: { OUTPUT0: tensor("INT64", [-1, -1]) },
    fn: ({ INPUT0 }) => ({ OUTPUT0: INPUT0! }),
  },
];

const post = postAlone;

const fp32Values = (n: number, seed: number) => {
  const bits = new Uint32Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    // Finite floats only (exponent below all-ones), both signs, subnormals included.
    bits[i] = (x >>> 0) & 0xfeffffff;
  }
  return new Float32Array(bits.buffer);
};

describe("large JSON tensors over HTTP (native conversion off the event loop)", () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  for (const workers of supportsReusePort() ? [1, 2] : [1]) {
    it(`round-trips 1 MiB FP32 and 64-bit integers exactly, with small requests alongside (workers ${workers})`, async () => {
      const server = await startServer(models, { workers });
      close = () => server.close();
      const base = `${server.urls.http}/v2/models`;
      const big = Array.from({ length: 4 }, (_, k) => fp32Values(262144, 0x9e3779b9 + k));
      const bodies = big.map((v) =>
        JSON.stringify({
          inputs: [{ name: "INPUT0", datatype: "FP32", shape: [v.length], data: Array.from(v) }],
        }),
      );
      const ints = Array.from({ length: 20000 }, (_, i) =>
        (BigInt(i) * 461168601842738n - 2n ** 62n).toString(),
      );
      const intBody = `{"inputs":[{"name":"INPUT0","datatype":"INT64","shape":[100,200],"data":[${ints.join(",")}]}]}`;
      const small = '{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[2],"data":[0.1,-0.0]}]}';

      const [answers, intAnswer, smallAnswer] = await Promise.all([
        Promise.all(bodies.map((b) => post(`${base}/id_fp32/infer`, b))),
        post(`${base}/id_int64/infer`, intBody),
        post(`${base}/id_fp32/infer`, small),
      ]);
      answers.forEach((a, k) => {
        expect(a.status, a.text.slice(0, 300)).toBe(200);
        const out = JSON.parse(a.text).outputs[0];
        expect(out.shape).toEqual([262144]);
        // Shortest float32 text reads back to the very same bits.
        expect(
          Buffer.from(Float32Array.from(out.data as number[]).buffer).equals(Buffer.from(big[k]!.buffer)),
        ).toBe(true);
      });
      expect(intAnswer.status, intAnswer.text.slice(0, 300)).toBe(200);
      expect(intAnswer.text).toContain(`"shape":[100,200],"data":[${ints.join(",")}]`);
      expect(smallAnswer.status).toBe(200);
      expect(JSON.parse(smallAnswer.text).outputs[0].data).toEqual([0.1, -0]);
      expect(smallAnswer.text).toContain('"data":[0.1,-0.0]');

      // A bad value far into a large body is the same 400 as on the general path.
      const bad = bodies[0]!.replace(/,([^,]*)\]\}\]\}$/, ',"x"]}]}');
      const badAnswer = await post(`${base}/id_fp32/infer`, bad);
      expect(badAnswer.status).toBe(400);
      expect(JSON.parse(badAnswer.text).error).toBe("input 'INPUT0': FP32 elements must be numbers");
    });
  }
});

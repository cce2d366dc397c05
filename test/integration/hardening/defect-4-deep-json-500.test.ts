import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tensor } from "../../../src/core/tensor-factory.js";
import { startServer } from "../../helpers/server.js";
import { capturingLogger } from "./log-sink.js";

// Defect 4: a shape, datatype or data element nested ~100 000 deep, or a big integer inside a
// shape element, made the HTTP codec's error paths throw (RangeError / TypeError): 500 with a
// stack trace at error level instead of a short 400.

const log = capturingLogger();
let base: string;
let close: () => Promise<void>;
beforeAll(async () => {
  const server = await startServer(
    [
      {
        name: "m",
        inputs: { A: tensor("INT32", [2]) },
        outputs: { Y: tensor("INT32", [2]) },
        fn: ({ A }) => ({ Y: A! }),
      },
    ],
    { logger: log.logger },
  );
  base = server.urls.http!;
  close = () => server.close();
});
afterAll(() => close());

const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
const rows: [string, string][] = [
  [
    "a shape nested 100 000 deep",
    `{"inputs":[{"name":"A","shape":${deep},"datatype":"INT32","data":[1,2]}]}`,
  ],
  [
    "a shape element nested 100 000 deep",
    `{"inputs":[{"name":"A","shape":[2,${deep}],"datatype":"INT32","data":[1,2]}]}`,
  ],
  ["a datatype nested 100 000 deep", `{"inputs":[{"name":"A","shape":[2],"datatype":${deep},"data":[1,2]}]}`],
  [
    "a data element nested 100 000 deep",
    `{"inputs":[{"name":"A","shape":[2],"datatype":"INT32","data":[1,${deep}]}]}`,
  ],
  [
    "a big integer inside a shape element",
    `{"inputs":[{"name":"A","shape":[[12345678901234567890]],"datatype":"INT32","data":[1,2]}]}`,
  ],
  [
    "a big integer as the datatype",
    `{"inputs":[{"name":"A","shape":[2],"datatype":12345678901234567890,"data":[1,2]}]}`,
  ],
  [
    "an object with a big integer as a data element",
    `{"inputs":[{"name":"A","shape":[2],"datatype":"INT32","data":[1,{"x":12345678901234567890}]}]}`,
  ],
];

describe("defect 4: hostile nesting and big integers in the HTTP codec's error paths", () => {
  for (const [name, body] of rows) {
    it(`answers 400 with a short message for ${name}`, async () => {
      const before = log.lines().length;
      const res = await fetch(`${base}/v2/models/m/infer`, { method: "POST", body });
      expect(res.status).toBe(400);
      const { error } = (await res.json()) as { error: string };
      expect(error.length).toBeLessThan(200);
      expect(error).not.toMatch(/RangeError|TypeError|BigInt|call stack/);
      const logged = log.lines().slice(before);
      expect(logged.filter((l) => l.level >= 50)).toEqual([]);
      expect((await fetch(`${base}/v2/health/ready`)).status).toBe(200);
    });
  }
});

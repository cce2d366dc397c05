import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tensor } from "../../../src/core/tensor-factory.js";
import { startServer } from "../../helpers/server.js";

// Defect 5: a request rejected before its body was read (unknown model) was answered with
// `Connection: keep-alive` and then the socket was closed, so pooling clients (aiohttp,
// tritonclient.http.aio, undici) failed their next request at random.

let base: string;
let close: () => Promise<void>;
beforeAll(async () => {
  const server = await startServer([
    {
      name: "m",
      inputs: { A: tensor("INT32", [2]) },
      outputs: { Y: tensor("INT32", [2]) },
      fn: ({ A }) => ({ Y: A! }),
    },
  ]);
  base = server.urls.http!;
  close = () => server.close();
});
afterAll(() => close());

const good = JSON.stringify({ inputs: [{ name: "A", shape: [2], datatype: "INT32", data: [1, 2] }] });
const bigBody = `{"inputs":[{"name":"A","shape":[2],"datatype":"INT32","data":[1,2]}],"pad":"${"x".repeat(512 * 1024)}"}`;

/** Sends `first` on a raw socket, reads its response, then (if the server said keep-alive) a second request. */
function twoOnOneSocket(first: string): Promise<{ firstHead: string; second: string | "closed" }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname);
    let buf = "";
    let firstHead: string | undefined;
    s.on("error", () => {});
    s.on("data", (d) => {
      buf += d.toString("latin1");
      if (firstHead === undefined) {
        const end = buf.indexOf("\r\n\r\n");
        if (end === -1) return;
        const head = buf.slice(0, end);
        const len = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + len) return;
        firstHead = head;
        buf = buf.slice(end + 4 + len);
        if (/connection: close/i.test(head)) return;
        s.write(
          `POST /v2/models/m/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${good.length}\r\n\r\n${good}`,
        );
      }
    });
    s.on("close", () => {
      if (firstHead === undefined) reject(new Error("no response"));
      else resolve({ firstHead, second: /connection: close/i.test(firstHead) ? "closed" : buf });
    });
    setTimeout(() => s.end(), 3000);
    s.write(
      `POST /v2/models/nope/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${Buffer.byteLength(first)}\r\n\r\n`,
    );
    s.write(first);
  });
}

describe("defect 5: a request rejected before its body is read", () => {
  it("either says Connection: close or keeps the connection usable", async () => {
    const r = await twoOnOneSocket(bigBody);
    expect(r.firstHead).toMatch(/^HTTP\/1\.1 404/);
    if (r.second !== "closed") expect(r.second).toMatch(/^HTTP\/1\.1 200/);
  });

  it("never fails a pooling client's next request", async () => {
    for (let i = 0; i < 30; i++) {
      const bad = await fetch(`${base}/v2/models/nope/infer`, { method: "POST", body: bigBody });
      expect(bad.status).toBe(404);
      await bad.arrayBuffer();
      const ok = await fetch(`${base}/v2/models/m/infer`, { method: "POST", body: good });
      expect(ok.status).toBe(200);
      await ok.arrayBuffer();
    }
  });
});

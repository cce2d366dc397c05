import type * as Http from "node:http";
import type * as Https from "node:https";
import { createRequire } from "node:module";

// `import { createServer } from "node:http"` builds node:http's ES module facade, which reads every
// export, and its WebSocket / CloseEvent / MessageEvent getters load undici: ~25 ms of every
// server's start (Node 22–24). A require() of the built-in has no facade and loads none of it.
const require = createRequire(import.meta.url);
const http = require("node:http") as typeof Http;
const https = require("node:https") as typeof Https;

export const createServer: typeof Http.createServer = http.createServer;
export const createHttpsServer: typeof Https.createServer = https.createServer;

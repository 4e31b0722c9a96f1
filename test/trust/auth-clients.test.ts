// Every library client against a real `strata serve --auth` process (HTTP and QUIC): with a token
// whose scopes cover the request it works; with none the gateway's UNAUTHENTICATED comes back; with
// one out of scope, FORBIDDEN. The clients: the typed client (createClient), the browser client
// (publish, pullArtefact), the artefact client (pushArtefact, pullArtefact) and the edge node
// (openEdge) over HTTP and over QUIC (the token in the hello).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { StrataError } from "../../core/errors.ts";
import { pullArtefact, pushArtefact } from "../../edge/artefacts/index.ts";
import { publish as browserPublish, pullArtefact as browserPull } from "../../edge/browser/index.ts";
import { type GatewayAddress, openEdge } from "../../edge/index.ts";
import { createClient, streamParam } from "../../gateway/client.ts";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";
import { waitFor } from "../edge/edge-fixtures.ts";

setDefaultTimeout(60_000);

let gw: GatewayProcess;
let fingerprint = "";
let admin = "";
/** publish and consume on auth/>. */
let good = "";
/** publish and consume on elsewhere/> only. */
let outOfScope = "";
const dirs: string[] = [];

function dir(prefix: string): string {
  const d = tempDir(prefix);
  dirs.push(d);
  return d;
}

async function issue(scopes: string[], subject: string): Promise<string> {
  const response = await fetch(`${gw.url}/v1/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify({ scopes: scopes.map((s) => ({ action: s.slice(0, s.indexOf(":")), streams: s.slice(s.indexOf(":") + 1) })), ttl_s: 3600, subject }),
  });
  expect(response.status).toBe(201);
  return z.object({ token: z.string() }).parse(await response.json()).token;
}

async function createStream(name: string): Promise<void> {
  const response = await createClient(gw.url, { token: admin }).v1.streams.$post({ json: { name, partitions: 1 } });
  expect(response.status).toBe(201);
}

/** The StrataError code `work` fails with. */
async function refusal(work: () => Promise<unknown>): Promise<string> {
  try {
    await work();
  } catch (e) {
    if (e instanceof StrataError) return e.code;
    throw e;
  }
  throw new Error("expected a refusal, the call succeeded");
}

const errorBody = z.object({ error: z.object({ code: z.string() }) });

/** A refused answer's status and error code. */
async function refused(response: { status: number; json(): Promise<unknown> }): Promise<[number, string]> {
  return [response.status, errorBody.parse(await response.json()).error.code];
}

beforeAll(async () => {
  gw = await startGateway({ args: ["--auth", "--quic-port", "0"] });
  await waitFor(() => /SHA-256 fingerprint [0-9a-f]{64}/.test(gw.output()) || /QUIC not served/.test(gw.output()), 15_000, "the QUIC listener");
  fingerprint = /SHA-256 fingerprint ([0-9a-f]{64})/.exec(gw.output())?.[1] ?? "";
  admin = readFileSync(join(gw.dataDir, "admin.token"), "utf8").trim();
  good = await issue(["publish:auth/>", "consume:auth/>"], "client-good");
  outOfScope = await issue(["publish:elsewhere/>", "consume:elsewhere/>"], "client-other");
  for (const name of ["auth/typed", "auth/browser", "auth/models", "auth/edge-http", "auth/edge-quic"]) await createStream(name);
});

afterAll(async () => {
  if (gw) {
    await gw.kill();
    removeDir(gw.dataDir);
  }
  for (const d of dirs) removeDir(d);
});

describe("typed client (createClient)", () => {
  const post = (token: string | undefined) =>
    createClient(gw.url, token === undefined ? {} : { token }).v1.streams[":name"].records.$post({ param: { name: streamParam("auth/typed") }, query: {}, json: { records: [{ fields: { n: 1 } }] } });

  test("a token in scope publishes and reads", async () => {
    expect((await post(good)).status).toBe(200);
    const read = await createClient(gw.url, { token: good }).v1.streams[":name"].partitions[":partition"].records.$get({ param: { name: streamParam("auth/typed"), partition: "0" }, query: { offset: "0" } });
    expect(read.status).toBe(200);
  });

  test("no token: 401 UNAUTHENTICATED", async () => {
    expect(await refused(await post(undefined))).toEqual([401, "UNAUTHENTICATED"]);
  });

  test("a token out of scope: 403 FORBIDDEN", async () => {
    expect(await refused(await post(outOfScope))).toEqual([403, "FORBIDDEN"]);
  });

  test("headers given as a function are sent beside the token", async () => {
    const client = createClient(gw.url, { token: good, headers: () => ({ accept: "application/msgpack" }) });
    const response = await client.v1.streams[":name"].partitions[":partition"].records.$get({ param: { name: streamParam("auth/typed"), partition: "0" }, query: { offset: "0" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("application/msgpack");
  });
});

describe("browser client", () => {
  const records = [{ fields: { caption: "a cat" } }];

  test("publish: in scope, without a token, out of scope", async () => {
    expect(await browserPublish(gw.url, "auth/browser", records, { token: good })).toEqual([{ partition: 0, offset: 0 }]);
    expect(await refusal(() => browserPublish(gw.url, "auth/browser", records))).toBe("UNAUTHENTICATED");
    expect(await refusal(() => browserPublish(gw.url, "auth/browser", records, { token: outOfScope }))).toBe("FORBIDDEN");
  });

  test("pullArtefact: in scope, without a token, out of scope", async () => {
    const file = join(dir("strata-auth-browser-"), "weights.bin");
    const bytes = new Uint8Array(300_000).map((_, i) => (i * 7919) % 251);
    writeFileSync(file, bytes);
    await pushArtefact({ gateway: gw.url, token: good, file, stream: "auth/browser" });
    const pulled = await browserPull(gw.url, "auth/browser", { token: good });
    expect(pulled.bytes).toEqual(bytes);
    expect(await refusal(() => browserPull(gw.url, "auth/browser"))).toBe("UNAUTHENTICATED");
    expect(await refusal(() => browserPull(gw.url, "auth/browser", { token: outOfScope }))).toBe("FORBIDDEN");
  });
});

describe("artefact client (push, pull)", () => {
  test("push and pull with a token in scope; refused without one and out of scope", async () => {
    const work = dir("strata-auth-artefacts-");
    const file = join(work, "model.bin");
    const bytes = new Uint8Array(500_000).map((_, i) => (i * 31) % 253);
    writeFileSync(file, bytes);
    const pushed = await pushArtefact({ gateway: gw.url, token: good, file, stream: "auth/models" });
    const out = join(work, "pulled.bin");
    const pulled = await pullArtefact({ gateway: gw.url, token: good, source: "auth/models", out, cacheDir: join(work, "cache") });
    expect(pulled.artefact).toBe(pushed.artefact);
    expect(new Uint8Array(readFileSync(out))).toEqual(bytes);

    expect(await refusal(() => pushArtefact({ gateway: gw.url, file, stream: "auth/models" }))).toBe("UNAUTHENTICATED");
    expect(await refusal(() => pushArtefact({ gateway: gw.url, token: outOfScope, file, stream: "auth/models" }))).toBe("FORBIDDEN");
    const cacheDir = join(work, "cache-2");
    expect(await refusal(() => pullArtefact({ gateway: gw.url, source: "auth/models", out, cacheDir }))).toBe("UNAUTHENTICATED");
    expect(await refusal(() => pullArtefact({ gateway: gw.url, token: outOfScope, source: "auth/models", out, cacheDir }))).toBe("FORBIDDEN");
  });
});

async function endOffset(stream: string): Promise<number> {
  const response = await createClient(gw.url, { token: admin }).v1.streams[":name"].$get({ param: { name: streamParam(stream) } });
  const body = z.object({ partitions: z.array(z.object({ end_offset: z.number() })) }).parse(await response.json());
  return body.partitions.reduce((n, p) => n + p.end_offset, 0);
}

/** A fresh edge node with two records for `stream` in its outbox, drained once with `token`. */
async function drainOnce(gateway: GatewayAddress, stream: string, token: string | undefined): Promise<void> {
  const edge = await openEdge({ dataDir: dir("strata-auth-edge-"), gateway, maxOutboxBytes: 1 << 20, ...(token !== undefined ? { token } : {}) });
  try {
    await edge.publish(stream, [{ fields: { n: 1 } }, { fields: { n: 2 } }]);
    await edge.run({ once: true });
  } finally {
    await edge.close();
  }
}

describe.each([
  ["HTTP", "auth/edge-http"],
  ["QUIC", "auth/edge-quic"],
] as const)("edge node over %s", (kind, stream) => {
  const address = (): GatewayAddress => (kind === "HTTP" ? { http: gw.url } : { quic: `quic://127.0.0.1:${/quic:\/\/\S+:(\d+)/.exec(gw.output())?.[1]}`, fingerprint });

  test("a token in scope drains the outbox", async () => {
    if (kind === "QUIC") expect(fingerprint).not.toBe("");
    const before = await endOffset(stream);
    await drainOnce(address(), stream, good);
    expect(await endOffset(stream)).toBe(before + 2);
  });

  test("no token: the run ends with UNAUTHENTICATED, nothing written", async () => {
    const before = await endOffset(stream);
    expect(await refusal(() => drainOnce(address(), stream, undefined))).toBe("UNAUTHENTICATED");
    expect(await endOffset(stream)).toBe(before);
  });

  test("a token out of scope: the stream is refused with FORBIDDEN, nothing written", async () => {
    const before = await endOffset(stream);
    expect(await refusal(() => drainOnce(address(), stream, outOfScope))).toBe("FORBIDDEN");
    expect(await endOffset(stream)).toBe(before);
  });
});

// Bad input gets a clean refusal from a real gateway process, over HTTP and QUIC: a record no
// JSON reader could be served (nesting too deep, a non-finite number) and a malformed tensor are
// refused at publish with a 400 and leave nothing behind; a group offset past the partition's end
// is a 416; a 2 GB Content-Length gets the JSON 413 error; and an edge node given the wrong QUIC
// certificate fingerprint exits 2 instead of retrying forever.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { connect } from "node:net";
import { join } from "node:path";
import { encode } from "@msgpack/msgpack";
import { StrataError } from "../../core/errors.ts";
import { extensionCodec } from "../../core/log/extensions.ts";
import type { Value } from "../../core/log/record.ts";
import { QuicClient } from "../../edge/transports/quic-client.ts";
import { removeDir, ROOT, startGateway, tempDir, type GatewayProcess } from "../helpers/gateway.ts";

const STREAM = "bad/input";

let gw: GatewayProcess;
let v1: string;
let quicPort: number;
let fingerprint: string;
let quic: QuicClient;

beforeAll(async () => {
  gw = await startGateway({ args: ["--quic-port", "0", "--host", "127.0.0.1"] });
  v1 = `${gw.url}/v1`;
  const line = await waitFor(() => /QUIC listening on quic:\/\/127\.0\.0\.1:(\d+) .*fingerprint ([0-9a-f:]+)/i.exec(gw.output()));
  quicPort = Number(line[1]);
  fingerprint = line[2]!;
  quic = await QuicClient.connect({ host: "127.0.0.1", port: quicPort, fingerprint });
  expect((await post("/streams", { name: STREAM, partitions: 1 })).status).toBe(201);
  // One good record first: every refusal below must leave it readable as JSON.
  expect((await post(`/streams/${encodeURIComponent(STREAM)}/records`, { records: [{ fields: { ok: 1 } }] })).status).toBe(200);
}, 60_000);

afterAll(async () => {
  await quic?.close();
  await gw?.stop();
  if (gw) removeDir(gw.dataDir);
});

async function waitFor<T>(probe: () => T | null | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${v1}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

function postRaw(path: string, contentType: string, body: string | Uint8Array): Promise<Response> {
  return fetch(`${v1}${path}`, { method: "POST", headers: { "content-type": contentType }, body: body as string | Uint8Array<ArrayBuffer> });
}

const recordsPath = `/streams/${encodeURIComponent(STREAM)}/records`;

async function errorOf(response: Response): Promise<[number, string, string]> {
  const body = (await response.json()) as { error: { code: string; message: string } };
  return [response.status, body.error.code, body.error.message];
}

/**
 * The refusal of one request on a connection of its own: a frame the gateway cannot decode (too
 * deep, a malformed tensor) is refused on the connection, which then closes.
 */
async function quicFailure(request: (client: QuicClient) => Promise<unknown>): Promise<StrataError> {
  const client = await QuicClient.connect({ host: "127.0.0.1", port: quicPort, fingerprint });
  try {
    await request(client);
  } catch (e) {
    if (e instanceof StrataError) return e;
    throw e;
  } finally {
    await client.close();
  }
  throw new Error("expected a refusal");
}

async function endOffset(): Promise<number> {
  const info = (await (await fetch(`${v1}/streams/${encodeURIComponent(STREAM)}`)).json()) as { partitions: { end_offset: number }[] };
  return info.partitions[0]!.end_offset;
}

/** Every record of the partition, read as JSON from offset 0. */
async function readAllAsJson(): Promise<Response> {
  return fetch(`${v1}/streams/${encodeURIComponent(STREAM)}/partitions/0/records?offset=0`, { headers: { accept: "application/json" } });
}

/** A MessagePack publish body whose one field holds `depth` nested arrays around 1, written byte by byte (the library's encoder stops at 100). */
function deepMsgpackBody(depth: number): Uint8Array {
  const head = encode({ records: [{ fields: { v: 0 } }] });
  // The encoded body ends with the field's value, the one byte 0x00: replaced by the nesting.
  return new Uint8Array([...head.subarray(0, head.length - 1), ...new Uint8Array(depth).fill(0x91), 0x01]);
}

/** `depth` arrays, each holding the next, around 1. */
function nested(depth: number): Value {
  let value: Value = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

describe("records no JSON reader could be served are refused at publish, on every transport", () => {
  test("nesting deeper than JSON reads serve: 400 over HTTP MessagePack and JSON and over QUIC, never a 5xx", async () => {
    const before = await endOffset();
    // 32 levels of arrays put the innermost value 33 deep: one more than JSON reads serve.
    for (const depth of [32, 40, 99, 1000]) {
      const msgpack = await postRaw(recordsPath, "application/msgpack", deepMsgpackBody(depth));
      expect((await errorOf(msgpack)).slice(0, 2)).toEqual([400, "BAD_REQUEST"]);
      const json = await postRaw(recordsPath, "application/json", JSON.stringify({ records: [{ fields: { v: nested(depth) } }] }));
      expect((await errorOf(json)).slice(0, 2)).toEqual([400, "BAD_REQUEST"]);
    }
    for (const depth of [32, 40, 90]) {
      expect((await quicFailure((c) => c.publish(STREAM, { records: [{ fields: { v: nested(depth) } }] }))).code).toBe("BAD_REQUEST");
    }
    expect(await endOffset()).toBe(before);
    // The deepest value JSON reads serve goes through on both transports and reads back.
    expect((await postRaw(recordsPath, "application/msgpack", encode({ records: [{ fields: { v: nested(31) } }] }))).status).toBe(200);
    await quic.publish(STREAM, { records: [{ fields: { v: nested(31) } }] });
    const read = await readAllAsJson();
    expect(read.status).toBe(200);
  });

  test("non-finite numbers are a 400 naming the field: 1e309 in JSON, NaN and Infinity in MessagePack and QUIC", async () => {
    const before = await endOffset();
    const json = await postRaw(recordsPath, "application/json", '{"records": [{"fields": {"ok": 1, "huge": 1e309}}]}');
    const [status, code, message] = await errorOf(json);
    expect([status, code]).toEqual([400, "BAD_REQUEST"]);
    expect(message).toContain("huge");
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const msgpack = await errorOf(await postRaw(recordsPath, "application/msgpack", encode({ records: [{ fields: { inner: { x: [bad] } } }] })));
      expect(msgpack.slice(0, 2)).toEqual([400, "BAD_REQUEST"]);
      expect(msgpack[2]).toContain("inner.x[0]");
      const refused = await quicFailure((c) => c.publish(STREAM, { records: [{ fields: { x: bad } }] }));
      expect(refused.code).toBe("BAD_REQUEST");
      expect(refused.message).toContain("x is a non-finite number");
    }
    expect(await endOffset()).toBe(before);
    expect((await readAllAsJson()).status).toBe(200);
  });

  test("tensors are validated at publish: unknown dtype or data of the wrong length is 400 INVALID_TENSOR on both transports", async () => {
    const before = await endOffset();
    const cases = [
      { dtype: "XX9", shape: [1], data: new Uint8Array(4) },
      { dtype: "F32", shape: [3], data: new Uint8Array(3) },
      { dtype: "bf16", shape: [2, 2], data: new Uint8Array(9) },
    ];
    for (const t of cases) {
      const tagged = { $tensor: { dtype: t.dtype, shape: t.shape, data: { $base64: Buffer.from(t.data).toString("base64") } } };
      expect((await errorOf(await post(recordsPath, { records: [{ fields: { t: tagged } }] }))).slice(0, 2)).toEqual([400, "INVALID_TENSOR"]);
      // MessagePack extension 1, as the codec writes a Tensor.
      const extension = encode({ records: [{ fields: { t: { kind: "tensor", ...t } } }] }, { extensionCodec });
      expect((await errorOf(await postRaw(recordsPath, "application/msgpack", extension))).slice(0, 2)).toEqual([400, "INVALID_TENSOR"]);
      expect((await quicFailure((c) => c.publish(STREAM, { records: [{ fields: { t: { kind: "tensor", ...t } } }] }))).code).toBe("INVALID_TENSOR");
    }
    expect(await endOffset()).toBe(before);
    const good = { $tensor: { dtype: "F32", shape: [3], data: { $base64: Buffer.from(new Uint8Array(12)).toString("base64") } } };
    expect((await post(recordsPath, { records: [{ fields: { t: good } }] })).status).toBe(200);
  });
});

describe("group offsets", () => {
  test("committing past the partition's end is 416 OFFSET_OUT_OF_RANGE over HTTP and QUIC; the end itself is allowed", async () => {
    const end = await endOffset();
    const far = await errorOf(await post("/groups/g1/offsets", { stream: STREAM, partition: 0, offset: 999_999_999_999 }));
    expect(far.slice(0, 2)).toEqual([416, "OFFSET_OUT_OF_RANGE"]);
    expect((await errorOf(await post("/groups/g1/offsets", { stream: STREAM, partition: 0, offset: end + 1 }))).slice(0, 2)).toEqual([416, "OFFSET_OUT_OF_RANGE"]);
    const refused = await quicFailure((c) => c.commit("g1", { stream: STREAM, partition: 0, offset: end + 1 }));
    expect([refused.code, refused.message]).toEqual(["OFFSET_OUT_OF_RANGE", `offset ${end + 1} is past the end of ${STREAM}/0 (${end})`]);
    expect((await post("/groups/g1/offsets", { stream: STREAM, partition: 0, offset: end })).status).toBe(200);
    expect((await quic.commit("g1", { stream: STREAM, partition: 0, offset: end })).offset).toBe(end);
    const committed = (await (await fetch(`${v1}/groups/g1/offsets`)).json()) as { offsets: { offset: number }[] } | { offset: number }[];
    expect(JSON.stringify(committed)).not.toContain("999999999999");
  });
});

/** Sends a request head announcing a body of `length` bytes (and no body), and reads the answer until the server closes or answers in full. */
function announceBody(url: string, length: number): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(`POST /v1/streams/${encodeURIComponent(STREAM)}/records HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`);
    });
    let answer = "";
    socket.on("data", (d: Buffer) => {
      answer += d.toString("latin1");
      const head = answer.indexOf("\r\n\r\n");
      const declared = /content-length: *(\d+)/i.exec(answer);
      if (head >= 0 && declared && answer.length >= head + 4 + Number(declared[1])) socket.destroy();
    });
    socket.on("close", () => resolve(answer));
    socket.on("error", reject);
  });
}

describe("a body announced far past the limit", () => {
  test("a 2 GB Content-Length gets the JSON 413 PAYLOAD_TOO_LARGE error, not a bare 413", async () => {
    const answer = await announceBody(gw.url, 2 * 1024 ** 3);
    expect(answer).toStartWith("HTTP/1.1 413");
    const body = JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)) as { error: { code: string } };
    expect(body.error.code).toBe("PAYLOAD_TOO_LARGE");
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
  });
});

describe("the edge node and the gateway's certificate", () => {
  test("a wrong fingerprint is a configuration error: `strata edge run` exits 2 saying so, even with an HTTP fallback", async () => {
    const dir = tempDir("strata-edge-");
    try {
      // A record in the outbox, so the loop has something to send and connects.
      const publish = spawnSync(process.execPath, [join(ROOT, "cli/main.ts"), "edge", "publish", "--data", dir, STREAM, "--json", '{"from": "edge"}'], { cwd: ROOT, encoding: "utf8" });
      expect(publish.status).toBe(0);
      const wrong = "00".repeat(32);
      const child = spawn(process.execPath, [join(ROOT, "cli/main.ts"), "edge", "run", "--data", dir, "--gateway", `quic://127.0.0.1:${quicPort}`, "--http", gw.url, "--fingerprint", wrong], {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout.on("data", (d: Buffer) => (output += d.toString()));
      child.stderr.on("data", (d: Buffer) => (output += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
      expect(code).toBe(2);
      expect(output).toContain("does not match the pinned");
    } finally {
      removeDir(dir);
    }
  }, 60_000);
});

// The UCX control protocol against a gateway process, spoken by hand: unknown objects, ranges out
// of a segment, malformed, oversized and out-of-order messages, bad remote keys are each an
// error answer (or a client-side refusal) with both sides still serving; with --auth, the hello
// needs a token, a consume scope reads, other scopes are FORBIDDEN.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodeManifest } from "../../core/artefacts/manifest.ts";
import { blake3 } from "../../core/hashing/blake3.ts";
import { encodeControl, gatewayMessageDecoder } from "../../core/ucx/control-codec.ts";
import type { ClientMessage, GatewayMessage } from "../../core/ucx/control-schemas.ts";
import { UcxSession } from "../../core/ucx/ucx-session.ts";
import { parseUcxUrl } from "../../core/ucx/ucx-url.ts";
import { pushArtefact } from "../../edge/artefacts/index.ts";
import type { UcxEndpoint, UcxWorker } from "../../native/ucx-api.ts";
import { failure } from "../helpers/failure.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";
import { ucxForTests } from "../helpers/ucx.ts";
import { startUcxGateway, type UcxGateway } from "./ucx-fixtures.ts";

setDefaultTimeout(60_000);

const prepared = ucxForTests();
const dir = tempDir("strata-ucx-requests-");
const answers = gatewayMessageDecoder(16 * 1024 * 1024);
let worker: UcxWorker;
const gateways: UcxGateway[] = [];

/** A raw endpoint with the hello said (`token` optional); answers decoded. */
class RawClient {
  private constructor(readonly ep: UcxEndpoint) {}
  static async open(url: string): Promise<RawClient> {
    const { host, port } = parseUcxUrl(url);
    return new RawClient(await worker.connect(host, port));
  }
  async send(m: ClientMessage | Uint8Array): Promise<void> {
    await this.ep.send(m instanceof Uint8Array ? m : encodeControl(m));
  }
  async next(): Promise<GatewayMessage> {
    return answers.decode(await this.ep.receive());
  }
  async ask(m: ClientMessage): Promise<GatewayMessage> {
    await this.send(m);
    return this.next();
  }
}

async function helloed(url: string, token?: string): Promise<RawClient> {
  const c = await RawClient.open(url);
  expect((await c.ask({ t: "hello", v: 1, token: token ?? null })).t).toBe("welcome");
  return c;
}

function config(name: string, value: object): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(value));
  return path;
}

beforeAll(() => {
  if (prepared.available) worker = prepared.ucx.createWorker();
});

afterAll(async () => {
  for (const g of gateways) await g.gw.kill();
  await worker?.close();
  removeDir(dir);
});

describe.skipIf(!prepared.available)("UCX requests without auth", () => {
  let g: UcxGateway;
  let segment: { base: number; bytes: number };

  beforeAll(async () => {
    // Every answer in a region (inline off), a small control-message bound, segments sealed at once.
    const file = config("open", { ucx: { inlineMaxBytes: 0, maxMessageBytes: 4096, helloTimeoutMs: 200 }, storage: { segmentMs: 20 } });
    g = await startUcxGateway({ dataDir: join(dir, "open"), args: ["--config", file] });
    gateways.push(g);
    const data = randomBytes(300_000);
    writeFileSync(join(dir, "a.bin"), data);
    await pushArtefact({ gateway: g.gw.url, file: join(dir, "a.bin"), stream: "models/a" });
    const post = (path: string, body: unknown) => fetch(`${g.gw.url}/v1${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect((await post("/streams", { name: "raw/s", partitions: 1 })).status).toBe(201);
    expect((await post("/streams/raw%2Fs/records?acks=durable", { records: [{ fields: { n: 1, pad: "x".repeat(1000) } }] })).status).toBe(200);
    const listed = (await (await fetch(`${g.gw.url}/v1/streams/raw%2Fs/partitions/0/segments`)).json()) as { segments: { base: number; bytes: number }[] };
    segment = listed.segments[0]!;
  });

  test("a segment range comes as a region the client reads with a get; release is taken", async () => {
    const c = await helloed(g.ucxUrl);
    const answer = await c.ask({ t: "segment", id: 7, stream: "raw/s", partition: 0, base: segment.base, start: 0, end: segment.bytes });
    if (answer.t !== "region") throw new Error(`expected a region, got ${JSON.stringify(answer)}`);
    expect(answer.id).toBe(7);
    const local = worker.allocate(answer.length);
    await c.ep.get(local, 0, answer.length, BigInt(answer.address), answer.rkey);
    const http = new Uint8Array(await (await fetch(`${g.gw.url}/v1/streams/raw%2Fs/partitions/0/segments/${segment.base}`)).arrayBuffer());
    expect(Buffer.compare(local.bytes.subarray(0, answer.length), http)).toBe(0);
    await c.send({ t: "release", region: answer.region });
    await c.send({ t: "release", region: answer.region }); // twice: ignored
    local.release();
    await c.ep.close();
  });

  test("unknown objects and ranges out of a segment are error answers; the endpoint goes on", async () => {
    const c = await helloed(g.ucxUrl);
    const unknown = await c.ask({ t: "chunks", id: 1, hashes: [new Uint8Array(32).fill(9)] });
    expect(unknown).toMatchObject({ t: "error", id: 1, code: "NOT_FOUND" });
    expect(await c.ask({ t: "segment", id: 2, stream: "raw/s", partition: 0, base: segment.base, start: 0, end: segment.bytes + 1 })).toMatchObject({ t: "error", id: 2, code: "OFFSET_OUT_OF_RANGE" });
    expect(await c.ask({ t: "segment", id: 3, stream: "raw/s", partition: 0, base: 12345, start: 0, end: 10 })).toMatchObject({ t: "error", id: 3, code: "NOT_FOUND" });
    expect(await c.ask({ t: "segment", id: 4, stream: "none", partition: 0, base: 0, start: 0, end: 10 })).toMatchObject({ t: "error", id: 4, code: "STREAM_NOT_FOUND" });
    expect(await c.ask({ t: "segment", id: 5, stream: "raw/s", partition: 9, base: 0, start: 0, end: 10 })).toMatchObject({ t: "error", id: 5, code: "PARTITION_NOT_FOUND" });
    expect((await c.ask({ t: "segment", id: 6, stream: "raw/s", partition: 0, base: segment.base, start: 0, end: 64 })).t).toBe("region");
    await c.ep.close();
  });

  test("malformed, oversized and out-of-order messages are error answers; the endpoint goes on", async () => {
    const c = await helloed(g.ucxUrl);
    expect(await c.ask(new Uint8Array([0xc1]) as never)).toMatchObject({ t: "error", id: 0, code: "BAD_REQUEST" });
    await c.send(new Uint8Array([0x81, 0xa1, 0x74, 0xa4, 0x6e, 0x6f, 0x70, 0x65])); // {t: "nope"}
    expect(await c.next()).toMatchObject({ t: "error", id: 0, code: "BAD_REQUEST" });
    await c.send(new Uint8Array(6000)); // over ucx.maxMessageBytes (4096), under the worker's bound
    expect(await c.next()).toMatchObject({ t: "error", id: 0, code: "PAYLOAD_TOO_LARGE" });
    expect(await c.ask({ t: "hello", v: 1 })).toMatchObject({ t: "error", code: "BAD_REQUEST" });
    expect(await c.ask({ t: "chunks", id: 9, hashes: Array.from({ length: 200 }, () => new Uint8Array(32)) })).toMatchObject({ t: "error", id: 0, code: "PAYLOAD_TOO_LARGE" });
    expect((await c.ask({ t: "segment", id: 8, stream: "raw/s", partition: 0, base: segment.base, start: 0, end: 64 })).t).toBe("region");
    await c.ep.close();
  });

  test("a message past the worker's bound closes only that endpoint; a request before hello is refused and closed", async () => {
    const big = await helloed(g.ucxUrl);
    // The send itself may fail as the gateway drops the endpoint.
    await big.send(new Uint8Array(64 * 1024)).catch(() => undefined);
    expect(await big.ep.closed).toBeString();
    const early = await RawClient.open(g.ucxUrl);
    expect(await early.ask({ t: "segment", id: 1, stream: "raw/s", partition: 0, base: 0, start: 0, end: 1 })).toMatchObject({ t: "error", code: "BAD_REQUEST" });
    expect(await early.ep.closed).toBeString();
    const versioned = await RawClient.open(g.ucxUrl);
    expect(await versioned.ask({ t: "hello", v: 99 })).toMatchObject({ t: "error", code: "BAD_REQUEST" });
    expect(await versioned.ep.closed).toBeString(); // after ucx.helloTimeoutMs
    // The gateway still serves UCX and HTTP.
    const c = await helloed(g.ucxUrl);
    expect((await c.ask({ t: "segment", id: 2, stream: "raw/s", partition: 0, base: segment.base, start: 0, end: 64 })).t).toBe("region");
    expect((await fetch(`${g.gw.url}/healthz`)).status).toBe(200);
    await c.ep.close();
  });

  test("a bad remote key or a get past the region is refused by the client; both sides go on", async () => {
    const c = await helloed(g.ucxUrl);
    const answer = await c.ask({ t: "segment", id: 1, stream: "raw/s", partition: 0, base: segment.base, start: 0, end: segment.bytes });
    if (answer.t !== "region") throw new Error("expected a region");
    const local = worker.allocate(answer.length + 64);
    const garbage = new Uint8Array(answer.rkey.length).fill(0x5a);
    expect((await failure(c.ep.get(local, 0, answer.length, BigInt(answer.address), garbage))).code).toBe("BAD_REQUEST");
    expect((await failure(c.ep.get(local, 0, 64, BigInt(answer.address) - 4096n, answer.rkey))).code).toBe("BAD_REQUEST");
    await c.ep.get(local, 0, answer.length, BigInt(answer.address), answer.rkey);
    await c.send({ t: "release", region: answer.region });
    expect((await c.ask({ t: "segment", id: 2, stream: "raw/s", partition: 0, base: segment.base, start: 0, end: 64 })).t).toBe("region");
    local.release();
    await c.ep.close();
  });
});

describe.skipIf(!prepared.available)("UCX requests with --auth", () => {
  let g: UcxGateway;
  let admin: string;
  let first: { hash: Uint8Array; length: number };

  const issue = async (scopes: { action: string; streams: string }[]): Promise<string> => {
    const res = await fetch(`${g.gw.url}/v1/tokens`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${admin}` }, body: JSON.stringify({ scopes, ttl_s: 600 }) });
    expect(res.status).toBe(201);
    return ((await res.json()) as { token: string }).token;
  };

  beforeAll(async () => {
    g = await startUcxGateway({ dataDir: join(dir, "auth"), args: ["--auth", "--config", config("auth", { ucx: { helloTimeoutMs: 200 } })] });
    gateways.push(g);
    admin = readFileSync(join(g.gw.dataDir, "admin.token"), "utf8").trim();
    const data = randomBytes(200_000);
    writeFileSync(join(dir, "b.bin"), data);
    const pushed = await pushArtefact({ gateway: g.gw.url, file: join(dir, "b.bin"), stream: "models/b", token: admin });
    const manifest = await (await fetch(`${g.gw.url}/v1/manifests/${pushed.artefact}`, { headers: { authorization: `Bearer ${admin}` } })).arrayBuffer();
    first = decodeManifest(new Uint8Array(manifest)).chunks[0]!;
  });

  test("no token or a bad one: the hello is refused UNAUTHENTICATED and the endpoint closed", async () => {
    for (const token of [undefined, "not-a-token"]) {
      const c = await RawClient.open(g.ucxUrl);
      expect(await c.ask({ t: "hello", v: 1, token: token ?? null })).toMatchObject({ t: "error", id: 0, code: "UNAUTHENTICATED" });
      expect(await c.ep.closed).toBeString();
    }
  });

  test("a consume token reads; a publish-only token is FORBIDDEN; consume on another stream is FORBIDDEN for a segment", async () => {
    const consume = await issue([{ action: "consume", streams: "models/>" }]);
    const session = await UcxSession.open(await worker.connect(parseUcxUrl(g.ucxUrl).host, parseUcxUrl(g.ucxUrl).port), { allocate: (n) => worker.allocate(n), token: consume, maxMessageBytes: worker.limits.maxMessageBytes, timeoutMs: 10_000 });
    const framed = await session.request({ t: "chunks", hashes: [first.hash] });
    expect(framed.length).toBe(36 + first.length);
    expect(Buffer.compare(blake3(framed.subarray(36)), first.hash)).toBe(0);
    // An unknown chunk: authorised, then NOT_FOUND (not FORBIDDEN).
    expect((await failure(session.request({ t: "chunks", hashes: [new Uint8Array(32)] }))).code).toBe("NOT_FOUND");
    expect((await failure(session.request({ t: "segment", stream: "other/s", partition: 0, base: 0, start: 0, end: 1 }))).code).toBe("FORBIDDEN");
    await session.close();

    const publish = await issue([{ action: "publish", streams: "models/>" }]);
    const c = await helloed(g.ucxUrl, publish);
    expect(await c.ask({ t: "chunks", id: 1, hashes: [new Uint8Array(32)] })).toMatchObject({ t: "error", id: 1, code: "FORBIDDEN" });
    await c.ep.close();
  });
});

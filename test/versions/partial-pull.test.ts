// A partial pull of 2 of 200 tensors (`strata pull --tensors`) against a real gateway process,
// through a counting TCP proxy: the file is valid safetensors for the project's reader and for an
// independent parser written here, the tensor bytes equal the originals, __metadata__ is kept,
// and the bytes that crossed the wire are those of the header's and the two tensors' chunks.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodeManifest, chunkOffsets } from "../../core/artefacts/manifest.ts";
import { readSafetensors, writeSafetensors } from "../../core/tensors/safetensors.ts";
import { cli } from "../edge/edge-fixtures.ts";
import { pullArtefact as browserPull } from "../../edge/browser/pull.ts";
import { countingProxy, type CountingProxy } from "../edge/counting-proxy.ts";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";

const TENSORS = 200;
const name = (i: number) => `layers.${i}.weight`;

let gateway: GatewayProcess;
let proxy: CountingProxy;
let dir: string;
let model: string;
let original: Uint8Array;

beforeAll(async () => {
  gateway = await startGateway();
  proxy = await countingProxy(Number(new URL(gateway.url).port));
  dir = tempDir("strata-partial-pull-");
  model = join(dir, "model.safetensors");
  const tensors: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
  for (let i = 0; i < TENSORS; i++) {
    const data = new Float32Array(64 * (96 + (i % 7) * 16));
    for (let k = 0; k < data.length; k++) data[k] = Math.sin(i * 131 + k);
    tensors[name(i)] = { dtype: "F32", shape: [64, 96 + (i % 7) * 16], data };
  }
  original = writeSafetensors(tensors, { format: "pt", model: "tagger" });
  writeFileSync(model, original);
});

afterAll(async () => {
  await proxy?.close();
  await gateway?.stop();
  if (gateway) removeDir(gateway.dataDir);
  if (dir) removeDir(dir);
});

/** An independent reading of a safetensors file: u64 LE header length, JSON header, tensors back to back. */
function parseIndependently(bytes: Uint8Array): { metadata: unknown; tensors: Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }> } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headerLength)).toString("utf8")) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const tensors = new Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }>();
  let metadata: unknown;
  const spans: [number, number][] = [];
  for (const [key, value] of Object.entries(header)) {
    if (key === "__metadata__") {
      metadata = value;
      continue;
    }
    const [begin, end] = value.data_offsets;
    spans.push([begin, end]);
    tensors.set(key, { dtype: value.dtype, shape: value.shape, bytes: bytes.subarray(8 + headerLength + begin, 8 + headerLength + end) });
  }
  spans.sort((a, b) => a[0] - b[0]);
  let cursor = 0;
  for (const [begin, end] of spans) {
    expect(begin).toBe(cursor);
    cursor = end;
  }
  expect(8 + headerLength + cursor).toBe(bytes.length);
  return { metadata, tensors };
}

describe("partial pulls", () => {
  test("globs (* and ?) select tensors: a valid safetensors file of just them, __metadata__ kept, bytes equal", async () => {
    const pushed = await cli(["push", model, "--stream", "models/sharded", "--json", "--gateway", gateway.url]).done;
    expect(pushed.code).toBe(0);
    const artefact = (JSON.parse(pushed.stdout) as { artefact: string }).artefact;
    const manifestBytes = new Uint8Array(await (await fetch(`${gateway.url}/v1/manifests/${artefact}`)).arrayBuffer());
    const manifest = decodeManifest(manifestBytes);
    expect(Object.keys(manifest.tensors ?? {})).toHaveLength(TENSORS);

    const out = join(dir, "slice.safetensors");
    const before = proxy.samples.reduce((n, [, b]) => n + b, 0);
    const pulled = await cli(["pull", "models/sharded", out, "--tensors", "layers.17.*", "--tensors", "layers.1?3.weight", "--cache", join(dir, "cache"), "--json", "--gateway", `http://127.0.0.1:${proxy.port}`]).done;
    expect(pulled.code).toBe(0);
    const moved = proxy.samples.reduce((n, [, b]) => n + b, 0) - before;

    const bytes = new Uint8Array(readFileSync(out));
    const source = readSafetensors(original);
    const kept = [name(17), ...Array.from({ length: 10 }, (_, d) => `layers.1${d}3.weight`)].filter((n) => source.get(n) !== undefined);
    expect(kept).toHaveLength(11);
    const project = readSafetensors(bytes);
    expect(project.metadata).toEqual({ format: "pt", model: "tagger" });
    expect(project.tensors.map((t) => t.name).sort()).toEqual([...kept].sort());
    const independent = parseIndependently(bytes);
    expect(independent.metadata).toEqual({ format: "pt", model: "tagger" });
    for (const n of kept) {
      const want = source.get(n)!;
      const got = independent.tensors.get(n)!;
      expect(got.dtype).toBe(want.dtype);
      expect(got.shape).toEqual(want.shape);
      expect(Buffer.from(got.bytes).equals(Buffer.from(want.bytes))).toBe(true);
    }
    expect(moved).toBeGreaterThan(0);
  }, 120_000);

  test("exactly 2 of 200: the wire carries their chunks, the header's and the manifest, not the rest", async () => {
    const manifest = decodeManifest(new Uint8Array(await (await fetch(`${gateway.url}/v1/streams/models%2Fsharded/versions/latest`).then(async (r) => fetch(`${gateway.url}/v1/manifests/${((await r.json()) as { artefact: string }).artefact}`))).arrayBuffer()));
    const offsets = chunkOffsets(manifest);
    const source = readSafetensors(original);
    const wanted = [name(42), name(199)].map((n) => [source.dataStart + source.get(n)!.begin, source.dataStart + source.get(n)!.end] as const);
    const ranges = [[0, source.dataStart] as const, ...wanted];
    let chunkBytes = 0;
    manifest.chunks.forEach((c, i) => {
      if (ranges.some(([b, e]) => offsets[i]! < e && b < offsets[i]! + c.length)) chunkBytes += c.length;
    });
    const out = join(dir, "two.safetensors");
    const before = proxy.samples.reduce((n, [, b]) => n + b, 0);
    const pulled = await cli(["pull", "models/sharded", out, "--tensors", name(42), "--tensors", name(199), "--cache", join(dir, "cache-two"), "--json", "--gateway", `http://127.0.0.1:${proxy.port}`]).done;
    expect(pulled.code).toBe(0);
    const moved = proxy.samples.reduce((n, [, b]) => n + b, 0) - before;
    const summary = JSON.parse(pulled.stdout) as { bytes_transferred: number };
    expect(summary.bytes_transferred).toBe(chunkBytes);
    // Chunk bytes plus the manifest and HTTP framing: far less than the file.
    expect(moved).toBeGreaterThanOrEqual(chunkBytes);
    expect(moved).toBeLessThan(chunkBytes + 64 * 1024 + 2 * manifest.chunks.length * 64);
    expect(moved).toBeLessThan(original.length / 10);
    const project = readSafetensors(new Uint8Array(readFileSync(out)));
    expect(project.tensors.map((t) => t.name).sort()).toEqual([name(199), name(42)]);
    for (const t of project.tensors) expect(Buffer.from(t.bytes).equals(Buffer.from(source.get(t.name)!.bytes))).toBe(true);
  }, 120_000);

  test("the browser client's partial pull gives the same file, fetching only the needed chunks", async () => {
    const cliOut = new Uint8Array(readFileSync(join(dir, "two.safetensors")));
    const before = proxy.samples.reduce((n, [, b]) => n + b, 0);
    const pulled = await browserPull(`http://127.0.0.1:${proxy.port}`, "models/sharded", { tensors: [name(42), name(199)] });
    const moved = proxy.samples.reduce((n, [, b]) => n + b, 0) - before;
    expect(Buffer.from(pulled.bytes).equals(Buffer.from(cliOut))).toBe(true);
    expect(pulled.chunksTransferred).toBeLessThan(pulled.chunks / 10);
    expect(moved).toBeLessThan(original.length / 10);
  }, 120_000);

  test("a selection matching nothing, or an artefact that is not safetensors, is refused and writes nothing", async () => {
    const none = await cli(["pull", "models/sharded", join(dir, "none.safetensors"), "--tensors", "nope.*", "--cache", join(dir, "cache"), "--gateway", gateway.url]).done;
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("no tensor of the 200 matches");
    const plain = join(dir, "plain.bin");
    writeFileSync(plain, new Uint8Array(4096).fill(7));
    expect((await cli(["push", plain, "--stream", "models/plain", "--gateway", gateway.url]).done).code).toBe(0);
    const refused = await cli(["pull", "models/plain", join(dir, "plain-out.bin"), "--tensors", "*", "--cache", join(dir, "cache"), "--gateway", gateway.url]).done;
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("needs a safetensors artefact");
  }, 120_000);
});

// Chunk store recovery: acknowledged chunks survive a restart and a SIGKILL of the gateway
// process; a pack object uploaded without its index rows (a crash between the put and the
// commit) is verified and indexed at start; a damaged one is left alone, a redundant one deleted.
import { afterAll, expect, test } from "bun:test";
import { encode } from "@msgpack/msgpack";
import { join } from "node:path";
import { blake3, bytesToHex } from "../../core/hashing/blake3.ts";
import { ChunkFrameParser } from "../../core/artefacts/chunk-frames.ts";
import { LocalObjectStore } from "../../gateway/objects/local-object-store.ts";
import { PackBuilder, packKey } from "../../gateway/artefacts/pack-format.ts";
import { removeDir, startGateway, tempDir } from "../helpers/gateway.ts";
import { liveGateway } from "../helpers/in-process-gateway.ts";
import { chunkFile, missing, putChunksRaw, randomBytes, upload } from "./gateway-fixture.ts";

const dirs: string[] = [];
function dir(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}
afterAll(() => dirs.forEach(removeDir));

test("chunks and manifests survive a restart; reads after it come from the object store", async () => {
  const dataDir = dir();
  const file = chunkFile(randomBytes(500_000, 71));
  let gw = await liveGateway({ dataDir, artefacts: { packIdleMs: 5 } });
  await upload(gw.url, file);
  await gw.close();
  gw = await liveGateway({ dataDir, artefacts: { packIdleMs: 5 } });
  try {
    expect(await missing(gw.url, file.chunks.map((c) => bytesToHex(c.hash)))).toEqual([]);
    const body = new Uint8Array(await (await fetch(`${gw.url}/v1/artefacts/${file.id}`)).arrayBuffer());
    expect(Buffer.compare(body, file.bytes)).toBe(0);
  } finally {
    await gw.close();
  }
});

test("a pack uploaded but never indexed is verified and indexed at start; a damaged one is skipped, a redundant one deleted", async () => {
  const dataDir = dir();
  // The gateway creates the database and the object directory.
  await (await liveGateway({ dataDir })).close();
  const store = await LocalObjectStore.open(join(dataDir, "objects"));
  const chunks = Array.from({ length: 5 }, (_, i) => randomBytes(3000 + i, 80 + i));
  const pack = new PackBuilder();
  for (const c of chunks) pack.append(blake3(c), c);
  await store.put(packKey(pack.id), pack.encode());
  const damaged = new PackBuilder();
  const lost = randomBytes(4000, 99);
  damaged.append(blake3(lost), lost);
  const damagedBytes = damaged.encode();
  damagedBytes[damagedBytes.length - 1]! ^= 0xff;
  await store.put(packKey(damaged.id), damagedBytes);
  // A pack holding only chunks another pack holds (a GC rewrite's old pack whose delete was cut short).
  await Bun.sleep(2);
  const redundant = new PackBuilder();
  for (const c of chunks.slice(1, 3)) redundant.append(blake3(c), c);
  await store.put(packKey(redundant.id), redundant.encode());
  await store.close();

  const gw = await liveGateway({ dataDir });
  try {
    const hexes = chunks.map((c) => bytesToHex(blake3(c)));
    expect(await missing(gw.url, hexes)).toEqual([]);
    expect(await missing(gw.url, [bytesToHex(blake3(lost))])).toHaveLength(1);
    const res = await fetch(`${gw.url}/v1/chunks/get`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ hashes: hexes }) });
    const frames = new ChunkFrameParser(1 << 20).push(new Uint8Array(await res.arrayBuffer()));
    expect(frames.map((f) => f.data)).toEqual(chunks);
    const keys: string[] = [];
    for await (const o of gw.gateway.objectStore.list("packs/")) keys.push(o.key);
    expect(keys.sort()).toEqual([packKey(pack.id), packKey(damaged.id)].sort());
  } finally {
    await gw.close();
  }
});

test("every acknowledged chunk survives a SIGKILL of the gateway process mid-upload", async () => {
  const dataDir = dir();
  let child = await startGateway({ dataDir });
  const acked: Uint8Array[] = [];
  let sent = 0;
  const uploads = (async () => {
    for (let batch = 0; batch < 400; batch++) {
      const chunks = Array.from({ length: 8 }, (_, i) => randomBytes(2000 + ((batch * 8 + i) % 500), 1000 + batch * 8 + i));
      sent += chunks.length;
      try {
        const res = await putChunksRaw(child.url, chunks.map((c) => [blake3(c), c] as const));
        if (res.status !== 200) break;
        await res.arrayBuffer();
        acked.push(...chunks);
      } catch {
        break; // the process is gone
      }
    }
  })();
  while (acked.length < 80) await Bun.sleep(5);
  await child.kill();
  await uploads;
  expect(sent).toBeGreaterThan(acked.length - 1);

  child = await startGateway({ dataDir });
  try {
    const hexes = acked.map((c) => bytesToHex(blake3(c)));
    expect(await missing(child.url, hexes)).toEqual([]);
    const res = await fetch(`${child.url}/v1/chunks/get`, { method: "POST", headers: { "content-type": "application/msgpack" }, body: encode({ hashes: acked.map((c) => blake3(c)) }) });
    expect(res.status).toBe(200);
    const parser = new ChunkFrameParser(1 << 20);
    const frames = parser.push(new Uint8Array(await res.arrayBuffer()));
    parser.end();
    expect(frames.length).toBe(acked.length);
    frames.forEach((f, i) => expect(Buffer.compare(f.data, acked[i]!)).toBe(0));
  } finally {
    await child.stop();
  }
}, 60_000);

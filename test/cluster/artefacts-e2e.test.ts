// Artefacts through three real `strata serve --cluster` gateways on one libSQL server and one
// radosgw bucket: the same file pushed through two gateways at once is stored once (one chunk
// index, packs under the writers' node names) and reads whole from the third; POST /v1/admin/gc
// collects on the holder of the artefact-gc lock only, every other gateway answering 503
// NOT_LEADER with the holder's node and URL; the libSQL server down is 503 METADATA_UNAVAILABLE
// on the artefact routes, which work again once it is back.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { bytesToHex } from "../../core/hashing/blake3.ts";
import { parsePackKey } from "../../gateway/artefacts/pack-format.ts";
import { S3ObjectStore } from "../../gateway/objects/s3-object-store.ts";
import { startTestCluster, waitUntil, type TestCluster } from "../helpers/cluster.ts";
import { chunkFile, errorCode, missing, postHashes, randomBytes, upload } from "../artefacts/gateway-fixture.ts";

let cluster: TestCluster;

beforeAll(async () => {
  // GC by hand only (no timer), with no grace, so that the test decides when it runs.
  cluster = await startTestCluster({ gateways: 3, config: { artefacts: { gcIntervalMs: 0, gcGraceMs: 0, packIdleMs: 5 } } });
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

test("one file pushed through two gateways at once is stored once and reads whole from a third", async () => {
  const [one, two, three] = cluster.gateways;
  const file = chunkFile(randomBytes(600_000, 77), "application/x-model");
  await Promise.all([upload(one!.url, file, 16), upload(two!.url, file, 16)]);
  const hexes = file.chunks.map((c) => bytesToHex(c.hash));
  for (const g of cluster.gateways) expect(await missing(g.url, hexes)).toEqual([]);

  const response = await fetch(`${three!.url}/v1/artefacts/${file.id}`);
  expect(response.status).toBe(200);
  expect(new Uint8Array(await response.arrayBuffer())).toEqual(new Uint8Array(file.bytes));

  // The bucket holds packs only under the node names of the gateways that wrote them.
  const s3 = one!.spec.stores.s3;
  const store = await S3ObjectStore.open({ endpoint: s3.endpoint, bucket: s3.bucket, region: s3.region, prefix: s3.prefix, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
  try {
    const writers = new Set<string | undefined>();
    for await (const o of store.list("packs/")) writers.add(parsePackKey(o.key)?.node);
    expect(writers.size).toBeGreaterThan(0);
    for (const w of writers) expect([one!.node, two!.node]).toContain(w!);
  } finally {
    await store.close();
  }
}, 120_000);

test("POST /v1/admin/gc collects on the artefact-gc lock's holder only; the others name it", async () => {
  const answers = await waitUntil("one gateway holding the artefact-gc lock", async () => {
    const all = await Promise.all(cluster.gateways.map(async (g) => ({ g, response: await fetch(`${g.url}/v1/admin/gc`, { method: "POST" }) })));
    const collected = all.filter((a) => a.response.status === 200);
    const refused = all.filter((a) => a.response.status !== 200);
    const codes = await Promise.all(refused.map(async (a) => ({ status: a.response.status, code: await errorCode(a.response.clone()), text: await a.response.text() })));
    return collected.length === 1 ? { holder: collected[0]!.g, codes } : undefined;
  });
  expect(answers.codes).toHaveLength(2);
  for (const c of answers.codes) {
    expect(c.status).toBe(503);
    expect(c.code).toBe("NOT_LEADER");
    expect(c.text).toContain(`node ${answers.holder.node} (${answers.holder.url}) holds it now`);
  }
}, 120_000);

test("with the libSQL server down, artefact requests fail cleanly with 503 METADATA_UNAVAILABLE and work again once it is back", async () => {
  const [one] = cluster.gateways;
  const file = chunkFile(randomBytes(50_000, 78));
  const hexes = file.chunks.map((c) => bytesToHex(c.hash));
  await cluster.dev.sqld.kill();
  try {
    const down = await postHashes(one!.url, hexes);
    expect(down.status).toBe(503);
    expect(down.headers.get("retry-after")).toBe("1");
    expect(await errorCode(down)).toBe("METADATA_UNAVAILABLE");
    const manifest = await fetch(`${one!.url}/v1/manifests/${file.id}`);
    expect(manifest.status).toBe(503);
  } finally {
    await cluster.dev.sqld.start();
  }
  await waitUntil("the artefact routes answering again", async () => ((await postHashes(one!.url, hexes)).status === 200 ? true : undefined));
  await upload(one!.url, file, 16);
  expect(await missing(one!.url, hexes)).toEqual([]);
}, 120_000);

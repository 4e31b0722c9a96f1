// A gateway process SIGKILLed mid-compaction (a test-only fault point kills it right after the new
// segment object is written, or right after the catalog swap): after a restart every record
// reads back as before (or as compacted, never anything else), the latest map is whole, a second
// compaction completes, and no orphan segment object is left.
import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeDir, startGateway, tempDir, type GatewayProcess } from "../helpers/gateway.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

type Row = { offset: number; key: string; round: number };

async function post(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

async function readAll(url: string): Promise<Row[]> {
  const out: Row[] = [];
  let offset = 0;
  for (;;) {
    const r = (await (await fetch(`${url}/v1/streams/kv/partitions/0/records?offset=${offset}`)).json()) as any;
    for (const rec of r.records) out.push({ offset: rec.offset, key: Buffer.from(rec.key.$base64, "base64").toString(), round: rec.fields.round });
    if (r.next_offset >= r.end_offset) return out;
    offset = r.next_offset;
  }
}

const latestOf = async (url: string) => ((await (await fetch(`${url}/v1/streams/kv/latest`)).json()) as any).records.map((r: any) => [r.offset, r.fields.round]);

function segmentObjects(dataDir: string): string[] {
  return readdirSync(join(dataDir, "objects", "streams", "kv", "0")).filter((n) => n.endsWith(".seg"));
}

async function restart(dataDir: string, config: string): Promise<GatewayProcess> {
  return startGateway({ dataDir, args: ["--config", config] });
}

describe("SIGKILL mid-compaction", () => {
  for (const killAt of ["swapping", "deleting"] as const) {
    test(`killed on entering ${killAt}: the log stays whole and a second compaction completes`, async () => {
      const dataDir = tempDir();
      dirs.push(dataDir);
      const config = join(dataDir, "config.json");
      writeFileSync(config, JSON.stringify({ compaction: { intervalMs: 3_600_000, minRemovableRatio: 0 } }));
      let gw = await startGateway({ dataDir, args: ["--config", config], env: { STRATA_TEST_COMPACTION_KILL: killAt } });
      expect((await post(`${gw.url}/v1/streams`, { name: "kv", cleanup: "compact" })).status).toBe(201);
      for (let round = 0; round < 6; round++) {
        const records = [...["a", "b", "c"].map((key) => ({ key, fields: { round } })), { key: "tick", fields: { round } }];
        expect((await post(`${gw.url}/v1/streams/kv/records?acks=durable`, { records })).status).toBe(200);
      }
      const before = await readAll(gw.url);
      const latestBefore = await latestOf(gw.url);
      expect(before).toHaveLength(24);
      // The fault point kills the process during the request.
      await expect(post(`${gw.url}/v1/admin/compact`, { stream: "kv" })).rejects.toThrow();
      await gw.kill();
      expect(gw.child.signalCode).toBe("SIGKILL");

      gw = await restart(dataDir, config);
      try {
        const after = await readAll(gw.url);
        // Every record read is one written, at its offset; the first segment is either whole (the
        // kill came before the swap) or compacted (after it).
        for (const r of after) expect(before).toContainEqual(r);
        const firstSegment = after.filter((r) => r.offset < 4).map((r) => r.offset);
        expect(firstSegment).toEqual(killAt === "swapping" ? [0, 1, 2, 3] : [3]);
        expect(after.slice(-4).map((r) => r.offset)).toEqual([20, 21, 22, 23]);
        expect(await latestOf(gw.url)).toEqual(latestBefore);
        const again = await post(`${gw.url}/v1/admin/compact`, { stream: "kv" });
        expect(again.status).toBe(200);
        const compacted = await readAll(gw.url);
        expect(compacted.map((r) => r.offset)).toEqual([3, 7, 11, 15, 19, 20, 21, 22, 23]);
        expect(await latestOf(gw.url)).toEqual(latestBefore);
        // One object per committed segment: the interrupted pass left no orphan behind.
        expect(segmentObjects(dataDir)).toHaveLength(6);
      } finally {
        await gw.stop();
      }
    }, 60_000);
  }
});

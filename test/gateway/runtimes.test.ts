// The gateway serves the same HTTP API under Bun, Deno and Node (the bundle in dist/node), and
// what one runtime wrote, another reads after a restart on the same data directory.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { ensureNodeBuild, removeDir, startGateway, tempDir, type Runtime } from "../helpers/gateway.ts";

const dataDir = tempDir();
beforeAll(() => ensureNodeBuild());
afterAll(() => removeDir(dataDir));

const runtimes: Runtime[] = ["bun", "deno", "node"];

test.each(runtimes.map((r, i) => [r, i] as const))(
  "%s serves publish and read, and sees what the runtimes before it wrote",
  async (runtime, index) => {
    const gateway = await startGateway({ runtime, dataDir, timeoutMs: 60_000 });
    try {
      const v1 = `${gateway.url}/v1`;
      if (index === 0) {
        const created = await fetch(`${v1}/streams`, { method: "POST", body: JSON.stringify({ name: "runtimes/smoke", partitions: 1 }) });
        expect(created.status).toBe(201);
      }
      const published = await fetch(`${v1}/streams/runtimes%2Fsmoke/records`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ records: [{ fields: { runtime, bytes: { $base64: btoa(runtime) } } }] }),
      });
      expect(published.status).toBe(200);
      expect(await published.json()).toEqual({ records: [{ partition: 0, offset: index }] });
      const read = await fetch(`${v1}/streams/runtimes%2Fsmoke/partitions/0/records?offset=0`);
      const page = (await read.json()) as { records: { fields: { runtime: string; bytes: { $base64: string } } }[] };
      expect(page.records.map((r) => r.fields.runtime)).toEqual(runtimes.slice(0, index + 1));
      expect(page.records.map((r) => atob(r.fields.bytes.$base64))).toEqual(runtimes.slice(0, index + 1));
      expect(gateway.output()).toContain(`(${runtime};`);
    } finally {
      await gateway.stop();
    }
  },
  90_000,
);

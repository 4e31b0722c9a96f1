// A gateway whose --data is a real, small file system (an 8 MiB tmpfs) that fills up: publishes
// and stream creates answer 507 INSUFFICIENT_STORAGE (never 500) while it is full, publishes
// resume by themselves (no restart) within seconds once space is freed, and after a restart
// every acknowledged record is there, exactly once and in order. Needs root to mount; skipped
// with a message otherwise.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { startGateway, type GatewayProcess } from "../helpers/gateway.ts";
import { fillUp, mountSmallTmpfs, type SmallTmpfs } from "../helpers/small-tmpfs.ts";

/** The bound on resuming after space is freed, with room for a loaded machine. */
const RESUME_BOUND_MS = 5_000 + 3_000;
const stream = "full/s";
const recordsPath = `/v1/streams/${encodeURIComponent(stream)}/records`;

let tmpfs: SmallTmpfs;

beforeAll(() => {
  tmpfs = mountSmallTmpfs("8m", "strata-disk-full-");
});
afterAll(() => tmpfs.remove());

/** A record big enough that a full disk cannot take it in the space a filler leaves. */
function publish(gateway: GatewayProcess, n: number, acks: "local" | "durable" = "local"): Promise<Response> {
  return fetch(`${gateway.url}${recordsPath}?acks=${acks}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ records: [{ fields: { n, pad: "p".repeat(32 * 1024) } }] }),
  });
}

async function errorCode(response: Response): Promise<string | undefined> {
  return ((await response.json()) as { error?: { code?: string } }).error?.code;
}

async function readAll(gateway: GatewayProcess): Promise<number[]> {
  const out: number[] = [];
  for (let offset = 0; ; ) {
    const response = await fetch(`${gateway.url}/v1/streams/${encodeURIComponent(stream)}/partitions/0/records?offset=${offset}&max_records=100&fields=n`);
    expect(response.status).toBe(200);
    const got = ((await response.json()) as { records: Array<{ offset: number; fields: { n: number } }> }).records;
    if (got.length === 0) return out;
    for (const r of got) {
      expect(r.offset).toBe(offset++);
      out.push(r.fields.n);
    }
  }
}

test("a full disk: 507 for publishes and creates, publishes resume once space is freed, nothing acknowledged is lost", async () => {
  if (!tmpfs.mounted) {
    console.warn(`skipped: ${tmpfs.skipReason}`);
    return;
  }
  const dataDir = join(tmpfs.path, "data");
  let gateway = await startGateway({ dataDir });
  const acked: number[] = [];
  let filler: string | undefined;
  try {
    expect((await fetch(`${gateway.url}/v1/streams`, { method: "POST", body: JSON.stringify({ name: stream }) })).status).toBe(201);
    let n = 0;
    for (; n < 5; n++) {
      expect((await publish(gateway, n, n % 2 === 0 ? "local" : "durable")).status).toBe(200);
      acked.push(n);
    }

    filler = fillUp(tmpfs.path);
    for (let k = 0; k < 3; k++, n++) {
      const response = await publish(gateway, n);
      expect(response.status).toBe(507);
      expect(await errorCode(response)).toBe("INSUFFICIENT_STORAGE");
    }
    const create = await fetch(`${gateway.url}/v1/streams`, { method: "POST", body: JSON.stringify({ name: "full/new", partitions: 1024 }) });
    expect(create.status).toBe(507);
    expect(await errorCode(create)).toBe("INSUFFICIENT_STORAGE");
    // Nothing of the refused create is left: it does not exist.
    expect((await fetch(`${gateway.url}/v1/streams/${encodeURIComponent("full/new")}`)).status).toBe(404);

    rmSync(filler);
    filler = undefined;
    const freed = performance.now();
    for (;;) {
      const response = await publish(gateway, n);
      if (response.status === 200) {
        acked.push(n++);
        break;
      }
      expect(response.status).toBe(507);
      n++;
      expect(performance.now() - freed).toBeLessThan(RESUME_BOUND_MS);
      await Bun.sleep(100); // a client's retry interval, not a wait for a condition
    }
    for (let k = 0; k < 3; k++, n++) {
      expect((await publish(gateway, n)).status).toBe(200);
      acked.push(n);
    }
    // Durable publishes too: sealing and the catalog work again (an upload failing while the disk
    // was full is retried when a durable publish asks, so a 503 may come first).
    for (;;) {
      const response = await publish(gateway, n, "durable");
      acked.push(n++); // 200, or 503 after its records were synced: readable either way
      if (response.status === 200) break;
      expect(response.status).toBe(503);
      expect(performance.now() - freed).toBeLessThan(RESUME_BOUND_MS);
      await Bun.sleep(100); // a client's retry interval, not a wait for a condition
    }
    expect(await readAll(gateway)).toEqual(acked);

    await gateway.stop();
    gateway = await startGateway({ dataDir });
    expect(await readAll(gateway)).toEqual(acked);
  } finally {
    if (filler) rmSync(filler, { force: true });
    await gateway.stop();
  }
}, 120_000);

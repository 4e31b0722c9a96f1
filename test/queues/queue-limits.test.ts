// Queue limits from the gateway configuration (family `queues`): checked at start, and enforced:
// claims stop at the in-flight bound and at maxClaimRecords, nack errors are cut to maxErrorBytes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { StrataError } from "../../core/errors.ts";
import { openGateway } from "../../gateway/gateway.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { ack, call, claim, createStream, nack, publish } from "./queue-http.ts";

let gw: LiveGateway;

beforeAll(async () => {
  gw = await liveGateway({ queues: { maxInFlightPerQueue: 3, maxClaimRecords: 2, defaultClaimRecords: 2, maxErrorBytes: 16 } });
});
afterAll(async () => {
  await gw.close();
});

describe("queue limits", () => {
  test("a bad queues family fails the gateway's start, naming the key", async () => {
    const dir = tempDir("strata-queue-limits-");
    try {
      const error = await openGateway({ dataDir: dir, queues: { maxClaimRecords: 0 } }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StrataError);
      expect(String(error)).toContain("queues.maxClaimRecords");
    } finally {
      removeDir(dir);
    }
  });

  test("claims stop at maxClaimRecords and at the in-flight bound", async () => {
    await createStream(gw.url, "l/tasks", 1);
    await publish(gw.url, "l/tasks", Array.from({ length: 6 }, (_, n) => ({ fields: { n } })));
    const first = await claim(gw.url, "lq", { streams: ["l/tasks"], max_records: 100, visibility_ms: 60_000 });
    expect(first.length).toBe(2);
    const second = await claim(gw.url, "lq", { streams: ["l/tasks"], visibility_ms: 60_000 });
    expect(second.length).toBe(1); // 3 in flight: the bound
    expect(await claim(gw.url, "lq", { streams: ["l/tasks"] })).toEqual([]);
    await ack(gw.url, "lq", [first[0]!.receipt]);
    expect((await claim(gw.url, "lq", { streams: ["l/tasks"] })).length).toBe(1);
  });

  test("a nack's error is cut to maxErrorBytes in the dead letter", async () => {
    await createStream(gw.url, "l/err", 1);
    await call(`${gw.url}/v1/queues/le`, "PUT", { max_deliveries: 1 });
    await publish(gw.url, "l/err", [{ fields: { n: 1 } }]);
    const [r] = await claim(gw.url, "le", { streams: ["l/err"] });
    expect((await nack(gw.url, "le", { receipts: [r!.receipt], error: "é".repeat(40) })).dead_lettered).toBe(1);
    const page = await call<{ records: { headers: Record<string, string> }[] }>(`${gw.url}/v1/streams/l%2Ferr.dlq/partitions/0/records`, "GET");
    expect(page.body.records[0]!.headers["strata-dlq-error"]).toBe("é".repeat(8));
  });
});

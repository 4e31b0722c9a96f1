// The edge outbox without a gateway: the disk bound (OUTBOX_FULL, nothing of the failing publish
// stored, library and CLI), the producer identity (stable per data directory, distinct across
// them), and the (epoch, seq) stamp of a group surviving a crash before its ack.
import { afterAll, describe, expect, test } from "bun:test";
import { StrataError } from "../../core/errors.ts";
import { openEdgeDatabase } from "../../edge/db/database.ts";
import { openEdge } from "../../edge/index.ts";
import { DEFAULT_EDGE_LIMITS } from "../../edge/limits.ts";
import { encodeRecords } from "../../edge/records.ts";
import { Outbox } from "../../edge/store/outbox.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";
import { cli, edgeStatus } from "./edge-fixtures.ts";

const dirs: string[] = [];
function dir(): string {
  const d = tempDir("strata-edge-outbox-");
  dirs.push(d);
  return d;
}

afterAll(() => {
  for (const d of dirs) removeDir(d);
});

async function errorOf(p: Promise<unknown>): Promise<StrataError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof StrataError) return e;
    throw e;
  }
  throw new Error("expected a StrataError");
}

describe("outbox bound", () => {
  test("a publish past maxOutboxBytes fails with OUTBOX_FULL and stores nothing", async () => {
    const edge = await openEdge({ dataDir: dir(), maxOutboxBytes: 4096 });
    try {
      const record = { fields: { pad: "y".repeat(200) } };
      let stored = 0;
      let perPublish = 0;
      for (;;) {
        const before = await edge.status();
        const attempt = edge.publish("sensors/a", [record, record]);
        const error = await attempt.then(
          () => null,
          (e: unknown) => e,
        );
        if (error === null) {
          perPublish = (await edge.status()).outboxBytes - before.outboxBytes;
          stored += 2;
          continue;
        }
        expect(error).toBeInstanceOf(StrataError);
        expect((error as StrataError).code).toBe("OUTBOX_FULL");
        const after = await edge.status();
        expect(after.outboxRecords).toBe(before.outboxRecords);
        expect(after.outboxBytes).toBe(before.outboxBytes);
        break;
      }
      const status = await edge.status();
      expect(status.outboxRecords).toBe(stored);
      expect(status.outboxBytes).toBeLessThanOrEqual(4096);
      expect(status.outboxBytes + perPublish).toBeGreaterThan(4096);
      // A smaller publish that fits still goes in.
      await edge.publish("sensors/a", [{ fields: { n: 1 } }]);
      expect((await edge.status()).outboxRecords).toBe(stored + 1);
    } finally {
      await edge.close();
    }
  });

  test("strata edge publish reports OUTBOX_FULL, exits 1, and the failing batch stores nothing", async () => {
    const d = dir();
    const first = await cli(["edge", "publish", "--data", d, "s/cli", "--max-outbox", "1K"], '{"a": 1}\n{"a": 2}\n').done;
    expect(first.code).toBe(0);
    const before = await edgeStatus(d);
    expect(before.outbox_records).toBe(2);
    const lines = Array.from({ length: 40 }, (_, i) => JSON.stringify({ i, pad: "z".repeat(40) })).join("\n");
    const full = await cli(["edge", "publish", "--data", d, "s/cli", "--max-outbox", "1K"], lines).done;
    expect(full.code).toBe(1);
    expect(full.stderr).toContain("OUTBOX_FULL");
    const after = await edgeStatus(d);
    expect(after).toEqual(before);
  });

  test("invalid publishes store nothing", async () => {
    const edge = await openEdge({ dataDir: dir(), maxOutboxBytes: 1 << 20 });
    try {
      expect((await errorOf(edge.publish("Bad Name", [{ fields: {} }]))).code).toBe("INVALID_STREAM_NAME");
      expect((await errorOf(edge.publish("ok", []))).code).toBe("BAD_REQUEST");
      expect((await errorOf(edge.publish("ok", [{ key: "k".repeat(5000), fields: {} }]))).code).toBe("RECORD_TOO_LARGE");
      expect((await edge.status()).outboxRecords).toBe(0);
    } finally {
      await edge.close();
    }
  });
});

describe("producer identity", () => {
  test("stable across reopen of one data directory, distinct across directories, below 2^53", async () => {
    const a = dir();
    const first = await openEdge({ dataDir: a, maxOutboxBytes: 1024 });
    const id = first.producer.id;
    await first.close();
    const again = await openEdge({ dataDir: a, maxOutboxBytes: 1024 });
    expect(again.producer).toEqual({ id, epoch: 0 });
    await again.close();
    const other = await openEdge({ dataDir: dir(), maxOutboxBytes: 1024 });
    expect(other.producer.id).not.toBe(id);
    await other.close();
    expect(Number.isSafeInteger(id) && id > 0).toBe(true);
  });
});

describe("groups", () => {
  test("a stamped group is resent with the same seq and bytes after a crash; later rows get the next seq", async () => {
    const d = dir();
    const limits = DEFAULT_EDGE_LIMITS;
    let db = await openEdgeDatabase(d);
    let outbox = new Outbox(db);
    for (let i = 0; i < 5; i++) await outbox.append("s/g", encodeRecords([{ fields: { i } }], limits), 1 << 20);
    await outbox.append("s/other", encodeRecords([{ fields: { o: 1 } }], limits), 1 << 20);
    const bounds = { maxRecords: 3, maxBytes: 1 << 20 };
    const group = await outbox.nextGroup(bounds, []);
    expect(group).toMatchObject({ stream: "s/g", epoch: 0, seq: 0 });
    expect(group!.records.count).toBe(3);
    db.close(); // the process dies before the ack

    db = await openEdgeDatabase(d);
    outbox = new Outbox(db);
    const resent = await outbox.nextGroup(bounds, []);
    expect(resent).toEqual(group);
    // While s/g's group is unacknowledged, s/g gets no second one; other streams go on.
    const other = await outbox.nextGroup(bounds, ["s/g"]);
    expect(other).toMatchObject({ stream: "s/other", seq: 0 });
    await outbox.ack(other!);
    expect(await outbox.nextGroup(bounds, ["s/g"])).toBeNull();
    await outbox.ack(resent!);
    const next = await outbox.nextGroup(bounds, []);
    expect(next).toMatchObject({ stream: "s/g", epoch: 0, seq: 1 });
    expect(next!.records.count).toBe(2);
    await outbox.ack(next!);
    expect(await outbox.totals()).toMatchObject({ records: 0, bytes: 0 });
    db.close();
  });
});

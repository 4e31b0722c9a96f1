// consumeGroup (the TypeScript library) against a real gateway on a loopback socket: batches in
// offset order per partition, explicit commit() with auto-commit off, a second member taking
// half the partitions (the first never yields a batch of a partition it no longer owns), a member
// removed behind its back rejoining on its own, a static member's restart getting its partitions
// back, a bad filter failing next(), and the state machine refusing transitions it does not have.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { isStrataError } from "../../core/errors.ts";
import { consumeGroup, type GroupBatch, type GroupConsumer } from "../../gateway/client.ts";
import { transition } from "../../gateway/client/group-consumer-state.ts";
import { waitFor } from "../edge/edge-fixtures.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";

const PARTITIONS = 4;
const SESSION_MS = 1000;
let live: LiveGateway;

async function publish(stream: string, from: number, count: number): Promise<void> {
  const records = Array.from({ length: count }, (_, i) => ({ partition: (from + i) % PARTITIONS, fields: { n: from + i } }));
  const response = await fetch(`${live.url}/v1/streams/${encodeURIComponent(stream)}/records`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ records }) });
  expect(response.status).toBe(200);
}

async function createStream(name: string): Promise<void> {
  await live.gateway.services.streams.create({ name, partitions: PARTITIONS });
}

/** Takes batches until `count` records were seen; checks each against the consumer's assignment at that moment. */
async function take(consumer: GroupConsumer, count: number): Promise<GroupBatch[]> {
  const batches: GroupBatch[] = [];
  let seen = 0;
  while (seen < count) {
    const next = await consumer.next();
    if (next.done) throw new Error(`the consumer ended after ${seen} records`);
    const owned = consumer.assignment().map((p) => `${p.stream}/${p.partition}`);
    expect(owned).toContain(`${next.value.stream}/${next.value.partition}`);
    batches.push(next.value);
    seen += next.value.records.length;
  }
  return batches;
}

const numbers = (batches: readonly GroupBatch[]) => batches.flatMap((b) => b.records.map((r) => r.fields?.n as number)).sort((a, b) => a - b);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

async function committed(group: string): Promise<Map<number, number>> {
  return new Map((await live.gateway.services.groups.get(group)).map((o) => [o.partition, o.offset]));
}

beforeAll(async () => {
  live = await liveGateway();
});

afterAll(async () => {
  await live?.close();
});

describe("consumeGroup", () => {
  test("batches in offset order per partition; with auto-commit off nothing is committed until commit()", async () => {
    await createStream("lib/commit");
    await publish("lib/commit", 0, 40);
    const consumer = consumeGroup({ gateway: live.url, group: "lib-commit", streams: ["lib/commit"], sessionTimeoutMs: SESSION_MS, autoCommit: false, waitMs: 200 });
    try {
      const batches = await take(consumer, 40);
      expect(numbers(batches)).toEqual(range(0, 40));
      for (const b of batches) expect(b.records.map((r) => r.offset)).toEqual(range(b.records[0]!.offset, b.records[0]!.offset + b.records.length));
      expect((await committed("lib-commit")).size).toBe(0);
      await consumer.commit();
      expect([...(await committed("lib-commit")).values()]).toEqual([10, 10, 10, 10]);
      expect(consumer.state().kind).toBe("stable");
    } finally {
      await consumer.close();
    }
    expect(consumer.state().kind).toBe("closed");
    expect((await live.gateway.services.groups.describe("lib-commit")).members).toEqual([]);
  });

  test("a second member takes half; the first yields nothing of what it gave up, and together they see every record once", async () => {
    await createStream("lib/share");
    await publish("lib/share", 0, 80);
    const options = { gateway: live.url, group: "lib-share", streams: ["lib/share"], sessionTimeoutMs: SESSION_MS, waitMs: 200, pageRecords: 5 } as const;
    const first = consumeGroup(options);
    const seen: number[] = numbers(await take(first, 10));
    const second = consumeGroup(options);
    /** Every batch handed out, checked against the member's assignment at that moment. */
    const collect = async (c: GroupConsumer) => {
      for await (const batch of c) {
        expect(c.assignment().map((p) => p.partition)).toContain(batch.partition);
        seen.push(...batch.records.map((r) => r.fields?.n as number));
      }
    };
    const loops = [collect(first), collect(second)];
    await waitFor(() => first.assignment().length === 2 && second.assignment().length === 2, 10_000, "two partitions each");
    await publish("lib/share", 80, 40);
    await waitFor(() => new Set(seen).size === 120, 10_000, "every record seen");
    await waitFor(async () => (await live.gateway.services.groups.describe("lib-share")).partitions.every((p) => p.lag === 0), 10_000, "everything committed");
    await Promise.all([first.close(), second.close()]);
    await Promise.all(loops);
    expect(seen.sort((a, b) => a - b)).toEqual(range(0, 120));
  });

  test("a member removed behind its back rejoins on its own and reads on from the committed offsets", async () => {
    await createStream("lib/fenced");
    await publish("lib/fenced", 0, 20);
    const consumer = consumeGroup({ gateway: live.url, group: "lib-fenced", streams: ["lib/fenced"], member: "m1", sessionTimeoutMs: SESSION_MS, waitMs: 200 });
    try {
      expect(numbers(await take(consumer, 20))).toEqual(range(0, 20));
      await consumer.commit();
      await live.gateway.services.groups.leave("lib-fenced", "m1");
      await waitFor(async () => (await live.gateway.services.groups.describe("lib-fenced")).members.length === 1 && consumer.assignment().length === PARTITIONS, 10_000, "the member back with every partition");
      await publish("lib/fenced", 20, 8);
      expect(numbers(await take(consumer, 8))).toEqual(range(20, 28));
    } finally {
      await consumer.close();
    }
  });

  test("a static member restarted within its session timeout gets its partitions back without a rebalance", async () => {
    await createStream("lib/static");
    const group = "lib-static";
    const options = { gateway: live.url, group, streams: ["lib/static"], sessionTimeoutMs: 3000, waitMs: 200 } as const;
    const a = consumeGroup({ ...options, instance: "worker-a" });
    const b = consumeGroup({ ...options, instance: "worker-b" });
    await waitFor(() => a.assignment().length === 2 && b.assignment().length === 2, 10_000, "two partitions each");
    const before = a.assignment().map((p) => p.partition).sort();
    const epoch = (await live.gateway.services.groups.describe(group)).group_epoch;
    await a.close(); // a static member does not leave on close
    expect((await live.gateway.services.groups.describe(group)).members).toHaveLength(2);
    const again = consumeGroup({ ...options, instance: "worker-a" });
    try {
      await waitFor(() => again.assignment().length === 2, 10_000, "the restarted member owns two partitions");
      expect(again.assignment().map((p) => p.partition).sort()).toEqual(before);
      expect(b.assignment()).toHaveLength(2);
      expect((await live.gateway.services.groups.describe(group)).group_epoch).toBe(epoch);
    } finally {
      await Promise.all([again.close(), b.close()]);
      await live.gateway.services.groups.leave(group, again.member).catch(() => undefined);
      await live.gateway.services.groups.leave(group, b.member).catch(() => undefined);
    }
  });

  test("a bad filter fails next() with BAD_FILTER", async () => {
    await createStream("lib/badfilter");
    await publish("lib/badfilter", 0, 4);
    const consumer = consumeGroup({ gateway: live.url, group: "lib-badfilter", streams: ["lib/badfilter"], filter: "fields.n >", sessionTimeoutMs: SESSION_MS });
    try {
      const error = await consumer.next().then(
        () => null,
        (e: unknown) => e,
      );
      expect(isStrataError(error) && error.code).toBe("BAD_FILTER");
    } finally {
      await consumer.close();
    }
  });

  test("the state machine refuses transitions it does not have", () => {
    expect(() => transition({ kind: "closed" }, { kind: "joining" })).toThrow(/no transition closed -> joining/);
    expect(() => transition({ kind: "joining" }, { kind: "stable", epoch: 1 })).toThrow(/no transition joining -> stable/);
    expect(() => transition({ kind: "stable", epoch: 5 }, { kind: "reconciling", epoch: 4 })).toThrow(/epoch went back/);
    expect(transition({ kind: "reconciling", epoch: 5 }, { kind: "stable", epoch: 5 })).toEqual({ kind: "stable", epoch: 5 });
  });
});

// The routing of LogService in cluster mode, with the router as the only stand-in: a real
// LogStore and metadata file behind the "front" gateway's services, and a real gateway (HTTP,
// its own storage) as the leader of partition 1. Publishes split per partition, the part led
// elsewhere is forwarded as a client-built batch and answered in the request's order; retries
// are deduplicated on both sides; a forwarded request is never forwarded again; a leader that
// does not answer is NOT_LEADER; the forward bound is UNAVAILABLE past it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { StrataError } from "../../core/errors.ts";
import { partitionForKey } from "../../core/log/partitioner.ts";
import type { RecordInput } from "../../core/log/record.ts";
import { gatewayCredential } from "../../gateway/cluster/gateway-credential.ts";
import { HttpPartitionForwarder } from "../../gateway/cluster/partition-forwarder.ts";
import { DEFAULT_FILTER_LIMITS } from "../../gateway/filters/filter-limits.ts";
import type { LogStore } from "../../gateway/log/log-store.ts";
import { createGatewayMetrics } from "../../gateway/metrics.ts";
import { readRawFromLeader } from "../../gateway/queues/remote-read.ts";
import { LogService } from "../../gateway/streams/log-service.ts";
import type { PartitionRoute, PartitionRouter } from "../../gateway/streams/partition-route.ts";
import { DEFAULT_SERVICE_LIMITS } from "../../gateway/streams/service-limits.ts";
import { StreamService } from "../../gateway/streams/stream-service.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { makeFixture, type Fixture } from "../log/log-fixture.ts";

const utf8 = new TextEncoder();
const STREAM = "routed";

/** Partition 0 is led here, partition 1 by `leader`. */
class TwoWayRouter implements PartitionRouter {
  readonly node = "front";
  leader: { url: string; node: string } | undefined;
  route(stream: string, partition: number): PartitionRoute {
    if (partition === 0) return { kind: "local" };
    if (!this.leader) throw new StrataError("NOT_LEADER", `no leader of ${stream}/${partition}`);
    return { kind: "remote", ...this.leader };
  }
  localPartitions(): number[] {
    return [0];
  }
}

/** Keys that hash to partition `p` of 2. */
function keysOf(p: number, count: number): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) if (partitionForKey(utf8.encode(`k${i}`), 2) === p) keys.push(`k${i}`);
  return keys;
}

function record(key: string | null, i: number): RecordInput {
  return { key: key === null ? null : utf8.encode(key), headers: {}, fields: { i } };
}

async function leaderRecords(leader: LiveGateway, partition: number): Promise<{ offset: number; fields: { i: number } }[]> {
  const response = await fetch(`${leader.url}/v1/streams/${STREAM}/partitions/${partition}/records?offset=0&max_records=1000`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { records: { offset: number; fields: { i: number } }[] }).records;
}

/** A fetch that holds every call until release() (the call itself is real). */
function gatedFetch() {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let started = 0;
  const gated = (async (input: string | URL | Request, init?: RequestInit) => {
    started++;
    await gate;
    return fetch(input, init);
  }) as typeof fetch;
  return { fetch: gated, release, started: () => started };
}

describe("LogService routing with a real leader", () => {
  let fixture: Fixture;
  let store: LogStore;
  let streams: StreamService;
  let leader: LiveGateway;
  const router = new TwoWayRouter();
  let service: LogService;

  const serviceWith = (forwarder: HttpPartitionForwarder) =>
    new LogService(streams, store, createGatewayMetrics(), DEFAULT_SERVICE_LIMITS, {}, undefined, DEFAULT_FILTER_LIMITS, { router, forwarder });

  beforeAll(async () => {
    fixture = await makeFixture();
    store = await fixture.open();
    streams = await StreamService.open(fixture.database.db, store, DEFAULT_SERVICE_LIMITS, { router, reloadMs: 60_000 });
    await streams.create({ name: STREAM, partitions: 2 });
    leader = await liveGateway();
    await leader.gateway.services.streams.create({ name: STREAM, partitions: 2 });
    router.leader = { url: leader.url, node: "leader" };
    service = serviceWith(new HttpPartitionForwarder({ forwardTimeoutMs: 10_000, maxForwardsInFlight: 16 }));
  });

  afterAll(async () => {
    streams.close();
    await leader.close();
    await fixture.cleanup();
  });

  test("a request over both partitions is split, the remote part forwarded, positions in the request's order", async () => {
    const [a0, b0] = keysOf(0, 2);
    const [a1, b1] = keysOf(1, 2);
    const records = [record(a1!, 0), record(a0!, 1), record(b1!, 2), record(b0!, 3)];
    const producer = { id: 41, epoch: 0, seq: 0 };
    const positions = await service.publish(STREAM, { records, producer });
    expect(positions).toEqual([
      { partition: 1, offset: 0 },
      { partition: 0, offset: 0 },
      { partition: 1, offset: 1 },
      { partition: 0, offset: 1 },
    ]);
    // Partition 1's records are on the leader, partition 0's here.
    expect((await leaderRecords(leader, 1)).map((r) => r.fields.i)).toEqual([0, 2]);
    expect(await leaderRecords(leader, 0)).toEqual([]);
    const local = await service.read({ stream: STREAM, partition: 0, offset: 0 });
    expect(local.records.map((r) => r.fields)).toEqual([{ i: 1 }, { i: 3 }]);

    // The same request again (a client retry) is answered with the same positions, nothing written.
    expect(await service.publish(STREAM, { records, producer })).toEqual(positions);
    expect((await leaderRecords(leader, 1)).length).toBe(2);
    expect((await service.read({ stream: STREAM, partition: 0, offset: 0 })).records.length).toBe(2);

    // The next sequence is new on both sides.
    const next = await service.publish(STREAM, { records: [record(a0!, 4), record(a1!, 5)], producer: { ...producer, seq: 1 } });
    expect(next).toEqual([
      { partition: 0, offset: 2 },
      { partition: 1, offset: 2 },
    ]);
  });

  test("sequences are judged per partition: a jump is new, a remembered one is answered with its offsets", async () => {
    const [k0] = keysOf(0, 1);
    const producer = { id: 44, epoch: 0, seq: 0 };
    const [first] = await service.publish(STREAM, { records: [record(k0!, 700)], producer });
    // Seq 1..4 went to other partitions (as far as this one knows): 5 is new here.
    const [jump] = await service.publish(STREAM, { records: [record(k0!, 701)], producer: { ...producer, seq: 5 } });
    expect(jump!.offset).toBe(first!.offset + 1);
    expect(await service.publish(STREAM, { records: [record(k0!, 700)], producer })).toEqual([first!]);
    // An older epoch is fenced here too.
    await service.publish(STREAM, { records: [record(k0!, 702)], producer: { ...producer, epoch: 1, seq: 3 } });
    await expect(service.publish(STREAM, { records: [record(k0!, 703)], producer: { ...producer, seq: 6 } })).rejects.toMatchObject({ code: "PRODUCER_FENCED" });
  });

  test("a client-built batch for a partition led elsewhere goes to the leader as it is", async () => {
    const { buildClientBatch } = await import("../../core/log/client-batch.ts");
    const [k1] = keysOf(1, 1);
    const before = (await leaderRecords(leader, 1)).length;
    const body = buildClientBatch([{ key: utf8.encode(k1!), headers: { h: "v" }, fields: { i: 100 } }], { id: 42, epoch: 0, baseSequence: 0 });
    const positions = await service.publishBatch(STREAM, body);
    expect(positions).toEqual([{ partition: 1, offset: before }]);
    const stored = await leaderRecords(leader, 1);
    expect(stored[before]!.fields).toEqual({ i: 100 });
    // Retried: the leader answers the original offset.
    const again = buildClientBatch([{ key: utf8.encode(k1!), headers: { h: "v" }, fields: { i: 100 } }], { id: 42, epoch: 0, baseSequence: 0 });
    expect(await service.publishBatch(STREAM, again)).toEqual(positions);
    expect((await leaderRecords(leader, 1)).length).toBe(before + 1);
  });

  test("unkeyed records without a producer stay on a partition led here", async () => {
    const before = (await leaderRecords(leader, 1)).length;
    for (let i = 0; i < 6; i++) {
      const [at] = await service.publish(STREAM, { records: [record(null, 200 + i)], producer: null });
      expect(at!.partition).toBe(0);
    }
    expect((await leaderRecords(leader, 1)).length).toBe(before);
  });

  test("a forwarded request for a partition not led here is NOT_LEADER and writes nothing", async () => {
    const [k1] = keysOf(1, 1);
    const before = (await leaderRecords(leader, 1)).length;
    const refused = service.publish(STREAM, { records: [record(k1!, 300)], producer: null }, "local", undefined, { forwarded: true });
    await expect(refused).rejects.toMatchObject({ code: "NOT_LEADER" });
    expect((await leaderRecords(leader, 1)).length).toBe(before);
    // A partition led here is appended even when the request was forwarded.
    const [k0] = keysOf(0, 1);
    const [at] = await service.publish(STREAM, { records: [record(k0!, 301)], producer: null }, "local", undefined, { forwarded: true });
    expect(at!.partition).toBe(0);
  });

  test("the leader's refusal keeps its code", async () => {
    const [k1] = keysOf(1, 1);
    // Producer 41 is at seq 1 on the leader (a single gateway, which judges sequences per stream): 9 is a gap there.
    const gap = service.publish(STREAM, { records: [record(k1!, 400)], producer: { id: 41, epoch: 0, seq: 9 } });
    await expect(gap).rejects.toMatchObject({ code: "SEQUENCE_GAP" });
    // An older epoch is fenced, by the leader's own producer state.
    await service.publish(STREAM, { records: [record(k1!, 401)], producer: { id: 43, epoch: 2, seq: 0 } });
    const fenced = service.publish(STREAM, { records: [record(k1!, 402)], producer: { id: 43, epoch: 1, seq: 0 } });
    await expect(fenced).rejects.toMatchObject({ code: "PRODUCER_FENCED" });
  });

  test("past maxForwardsInFlight a forward is UNAVAILABLE; the held ones complete", async () => {
    const gated = gatedFetch();
    const bounded = serviceWith(new HttpPartitionForwarder({ forwardTimeoutMs: 10_000, maxForwardsInFlight: 1 }, gated.fetch));
    const [k1] = keysOf(1, 1);
    const first = bounded.publish(STREAM, { records: [record(k1!, 500)], producer: null });
    while (gated.started() === 0) await Bun.sleep(1);
    await expect(bounded.publish(STREAM, { records: [record(k1!, 501)], producer: null })).rejects.toMatchObject({ code: "UNAVAILABLE" });
    gated.release();
    const [at] = await first;
    expect(at!.partition).toBe(1);
  });

  test("a leader that does not answer is NOT_LEADER (retryable)", async () => {
    const dead = new HttpPartitionForwarder({ forwardTimeoutMs: 10_000, maxForwardsInFlight: 4 });
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
    const closedUrl = `http://127.0.0.1:${server.port}`;
    server.stop(true);
    const [k1] = keysOf(1, 1);
    router.leader = { url: closedUrl, node: "gone" };
    try {
      await expect(serviceWith(dead).publish(STREAM, { records: [record(k1!, 600)], producer: null })).rejects.toMatchObject({ code: "NOT_LEADER" });
    } finally {
      router.leader = { url: leader.url, node: "leader" };
    }
  });

  test("a raw read of a partition led elsewhere comes from the leader when a reader is given, else NOT_LEADER", async () => {
    const onLeader = await leaderRecords(leader, 1);
    expect(onLeader.length).toBeGreaterThan(0);
    const reading = new LogService(streams, store, createGatewayMetrics(), DEFAULT_SERVICE_LIMITS, {}, undefined, DEFAULT_FILTER_LIMITS, {
      router,
      forwarder: new HttpPartitionForwarder({ forwardTimeoutMs: 10_000, maxForwardsInFlight: 4 }),
      readFromLeader: (at, request, authorization) => readRawFromLeader(at, request, { timeoutMs: 10_000, authorization }),
    });
    const raw = await reading.readRaw({ stream: STREAM, partition: 1, offset: 0, maxRecords: 1000 });
    expect(raw.records.map((r) => r.offset)).toEqual(onLeader.map((r) => r.offset));
    expect(raw.endOffset).toBe(onLeader.length);
    await expect(reading.readRaw({ stream: STREAM, partition: 1, offset: 0 }, { forwarded: true })).rejects.toMatchObject({ code: "NOT_LEADER" });
    await expect(service.readRaw({ stream: STREAM, partition: 1, offset: 0 })).rejects.toMatchObject({ code: "NOT_LEADER" });
    // The decoded read (a projection applied here) gives the same records, decoded.
    const decoded = await reading.read({ stream: STREAM, partition: 1, offset: 0, maxRecords: 1000, fields: ["i"] });
    expect(decoded.records.map((r) => r.fields)).toEqual(onLeader.map((r) => ({ i: r.fields.i })));
    // A partition led here is read from the local log either way.
    expect((await reading.readRaw({ stream: STREAM, partition: 0, offset: 0 })).records.length).toBeGreaterThan(0);
  });

  test("a stream another gateway created is found in the shared table on first use", async () => {
    const other = await StreamService.open(fixture.database.db, store, DEFAULT_SERVICE_LIMITS);
    await other.create({ name: "made-elsewhere", partitions: 1 });
    other.close();
    expect(() => streams.require("made-elsewhere")).toThrow(StrataError);
    expect((await streams.lookup("made-elsewhere")).partitions).toBe(1);
    const info = await streams.info("made-elsewhere");
    expect(info.partitions[0]!.leader).toEqual({ node: "front", url: null });
  });

  test("describe names each partition's leader; offsets of the remote one come from the shared state", async () => {
    const info = await streams.info(STREAM);
    expect(info.partitions[0]!.leader).toEqual({ node: "front", url: null });
    expect(info.partitions[0]!.end_offset).toBeGreaterThan(0);
    expect(info.partitions[1]!.leader).toEqual({ node: "leader", url: leader.url });
    // This metadata file holds no intake ranges or segments of partition 1 (its leader is a
    // single gateway with its own database): the shared state says 0.
    expect(info.partitions[1]!.end_offset).toBe(0);
  });
});

describe("forwarding with auth on at the leader", () => {
  let fixture: Fixture;
  let store: LogStore;
  let streams: StreamService;
  let leader: LiveGateway;
  const router = new TwoWayRouter();

  beforeAll(async () => {
    fixture = await makeFixture();
    store = await fixture.open();
    streams = await StreamService.open(fixture.database.db, store, DEFAULT_SERVICE_LIMITS, { router, reloadMs: 60_000 });
    await streams.create({ name: STREAM, partitions: 2 });
    leader = await liveGateway({ auth: { enabled: true } });
    await leader.gateway.services.streams.create({ name: STREAM, partitions: 2 });
    router.leader = { url: leader.url, node: "leader" };
  });

  afterAll(async () => {
    streams.close();
    await leader.close();
    await fixture.cleanup();
  });

  test("the services' own publishes and reads carry the gateway's credential; a caller's carry the caller's", async () => {
    const auth = leader.gateway.services.auth;
    if (auth.kind !== "tokens") throw new Error("auth is on at the leader");
    // In a cluster every gateway signs with the shared key; here the leader's own token service stands for it.
    const credential = gatewayCredential(auth.tokens);
    const service = new LogService(streams, store, createGatewayMetrics(), DEFAULT_SERVICE_LIMITS, {}, undefined, DEFAULT_FILTER_LIMITS, {
      router,
      forwarder: new HttpPartitionForwarder({ forwardTimeoutMs: 10_000, maxForwardsInFlight: 4 }),
      readFromLeader: (at, request, authorization) => readRawFromLeader(at, request, { timeoutMs: 10_000, authorization }),
      gatewayAuthorization: credential,
    });
    const [k1] = keysOf(1, 1);
    // A service's own append (no caller): forwarded with the gateway's token, accepted.
    const [internal] = await service.publish(STREAM, { records: [record(k1!, 1)], producer: null });
    expect(internal).toEqual({ partition: 1, offset: 0 });
    expect((await service.readRaw({ stream: STREAM, partition: 1, offset: 0 })).records.length).toBe(1);
    // One token for many calls.
    expect(await credential()).toBe(await credential());
    // A caller without a token is refused by the leader: the gateway does not lend its own.
    await expect(service.publish(STREAM, { records: [record(k1!, 2)], producer: null }, "local", undefined, {})).rejects.toMatchObject({ code: "UNAUTHENTICATED" });
    await expect(service.readRaw({ stream: STREAM, partition: 1, offset: 0 }, {})).rejects.toMatchObject({ code: "UNAUTHENTICATED" });
    // A caller's token that allows nothing here is refused by the leader with its code.
    const narrow = await auth.tokens.issue({ subject: "narrow", ttlS: 600, scopes: [{ action: "consume", streams: "elsewhere/>" }] });
    await expect(service.publish(STREAM, { records: [record(k1!, 3)], producer: null }, "local", undefined, { authorization: `Bearer ${narrow.token}` })).rejects.toMatchObject({ code: "FORBIDDEN" });
    const writer = await auth.tokens.issue({ subject: "writer", ttlS: 600, scopes: [{ action: "publish", streams: STREAM }] });
    const [ok] = await service.publish(STREAM, { records: [record(k1!, 4)], producer: null }, "local", undefined, { authorization: `Bearer ${writer.token}` });
    expect(ok).toEqual({ partition: 1, offset: 1 });
  });
});

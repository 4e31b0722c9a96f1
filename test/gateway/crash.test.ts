// A gateway process killed with SIGKILL in the middle of a publish load, then restarted on the
// same data directory: every acknowledged record is there exactly once, in order per partition,
// and idempotent producers that retry their unacknowledged request create no duplicates.
import { afterAll, expect, test } from "bun:test";
import { removeDir, startGateway, tempDir, type GatewayProcess } from "../helpers/gateway.ts";

const dataDir = tempDir();
afterAll(() => removeDir(dataDir));

const STREAM = "crash/load";
const PARTITIONS = 3;
const PRODUCERS = 4;
const RECORDS_PER_REQUEST = 40;

interface Sent {
  producer: number;
  seq: number;
  i: number;
}
type Position = { partition: number; offset: number };

function requestBody(producer: number, seq: number): string {
  const records = Array.from({ length: RECORDS_PER_REQUEST }, (_, i) => ({
    // Some keyed, some not: one request spans partitions, so a crash can split it.
    ...(i % 3 === 0 ? {} : { key: `k${(producer * 7 + i) % 11}` }),
    fields: { producer, seq, i, pad: "x".repeat(200) },
  }));
  return JSON.stringify({ producer: { id: 1000 + producer, epoch: 0, seq }, records });
}

async function publish(url: string, producer: number, seq: number): Promise<Position[]> {
  const response = await fetch(`${url}/v1/streams/${encodeURIComponent(STREAM)}/records`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: requestBody(producer, seq),
  });
  const body = (await response.json()) as { records: Position[]; error?: { code: string } };
  if (response.status !== 200) throw new Error(`publish answered ${response.status} ${body.error?.code}`);
  return body.records;
}

async function readAll(url: string, partition: number): Promise<{ offset: number; fields: Sent }[]> {
  const out: { offset: number; fields: Sent }[] = [];
  let offset = 0;
  for (;;) {
    const response = await fetch(`${url}/v1/streams/${encodeURIComponent(STREAM)}/partitions/${partition}/records?offset=${offset}&max_records=5000&fields=producer,seq,i`);
    const page = (await response.json()) as { records: { offset: number; fields: Sent }[]; next_offset: number; end_offset: number };
    out.push(...page.records);
    offset = page.next_offset;
    if (offset >= page.end_offset) return out;
  }
}

test(
  "SIGKILL during a publish load loses no acknowledged record and duplicates none",
  async () => {
    let gateway: GatewayProcess = await startGateway({ dataDir });
    const created = await fetch(`${gateway.url}/v1/streams`, { method: "POST", body: JSON.stringify({ name: STREAM, partitions: PARTITIONS }) });
    expect(created.status).toBe(201);

    const acked = new Map<string, Position>(); // "producer/seq/i" → position
    const nextSeq = new Array<number>(PRODUCERS).fill(0);
    let killed = false;
    const loops = Array.from({ length: PRODUCERS }, async (_, producer) => {
      while (!killed) {
        const seq = nextSeq[producer]!;
        try {
          const positions = await publish(gateway.url, producer, seq);
          positions.forEach((p, i) => acked.set(`${producer}/${seq}/${i}`, p));
          nextSeq[producer] = seq + 1;
        } catch {
          return; // the gateway died under this request: it stays unacknowledged, to be retried
        }
      }
    });
    await Bun.sleep(1500);
    killed = true;
    await gateway.kill();
    await Promise.all(loops);
    expect(acked.size).toBeGreaterThan(PRODUCERS * RECORDS_PER_REQUEST);

    gateway = await startGateway({ dataDir });
    try {
      // Every producer retries its unacknowledged request (same seq), then sends two more.
      for (let producer = 0; producer < PRODUCERS; producer++) {
        for (let k = 0; k < 3; k++) {
          const seq = nextSeq[producer]!;
          const positions = await publish(gateway.url, producer, seq);
          positions.forEach((p, i) => acked.set(`${producer}/${seq}/${i}`, p));
          nextSeq[producer] = seq + 1;
        }
      }
      // A second retry of an acknowledged request answers with the same offsets.
      const again = await publish(gateway.url, 0, nextSeq[0]! - 1);
      again.forEach((p, i) => expect(p).toEqual(acked.get(`0/${nextSeq[0]! - 1}/${i}`)!));

      const seen = new Map<string, Position>();
      for (let partition = 0; partition < PARTITIONS; partition++) {
        const records = await readAll(gateway.url, partition);
        records.forEach((r, index) => expect(r.offset).toBe(index)); // dense offsets from 0
        const lastSeq = new Map<number, number>();
        for (const r of records) {
          const id = `${r.fields.producer}/${r.fields.seq}/${r.fields.i}`;
          expect(seen.has(id)).toBe(false); // no duplicates anywhere
          seen.set(id, { partition, offset: r.offset });
          // per producer, sequences never go backwards within a partition
          expect(r.fields.seq).toBeGreaterThanOrEqual(lastSeq.get(r.fields.producer) ?? 0);
          lastSeq.set(r.fields.producer, r.fields.seq);
        }
      }
      // every acknowledged record is where its acknowledgement said, with its own content
      for (const [id, position] of acked) expect(seen.get(id)).toEqual(position);
      // and everything stored was acknowledged (the retried requests completed any partial write)
      expect(seen.size).toBe(acked.size);
    } finally {
      await gateway.stop();
    }
  },
  120_000,
);

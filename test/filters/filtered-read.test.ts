// Filtered reads against a real gateway process over HTTP: the selection is exact (every record
// of [offset, next_offset) that the filter accepts, and no other), a read that matches nothing
// still advances, a second read and a read after a restart give identical records, JSON and
// MessagePack agree, and a bad or over-long expression is 400 BAD_FILTER with its position.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Decoder } from "@msgpack/msgpack";
import { extensionCodec } from "../../core/log/extensions.ts";
import { removeDir, startGateway, tempDir, type GatewayProcess } from "../helpers/gateway.ts";
import { getJson, postJson } from "../helpers/in-process-gateway.ts";

const RECORDS = 3000;
/** maxFilterEvaluations of this gateway: a read examines at most this many records. */
const EVALUATIONS = 1000;
const ISSUE_FILTER = 'fields.quality_score > 0.9 && "verified" in fields.tags';

const decoder = new Decoder({ extensionCodec });
const dataDir = tempDir("strata-filters-");
const configDir = tempDir("strata-filters-config-");
const configFile = join(configDir, "config.json");
let gateway: GatewayProcess;

function sample(i: number) {
  return {
    key: `k-${i}`,
    headers: { source: `cam-${i % 4}` },
    fields: { i, quality_score: (i % 10) / 10 + 0.05, tags: i % 3 === 0 ? ["verified", "day"] : ["raw"] },
  };
}
/** The issue's filter, in plain TypeScript, over what sample() published. */
const issueSelects = (i: number): boolean => (i % 10) / 10 + 0.05 > 0.9 && i % 3 === 0;

const readUrl = (query: Record<string, string | number>): string =>
  `${gateway.url}/v1/streams/samples/partitions/0/records?${new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]))}`;

async function readJson(query: Record<string, string | number>) {
  const { status, body } = await getJson(readUrl(query));
  expect(status).toBe(200);
  return body as { records: { offset: number; key: unknown; headers: unknown; fields: { i: number } }[]; next_offset: number; end_offset: number };
}

beforeAll(async () => {
  writeFileSync(configFile, JSON.stringify({ filters: { maxFilterEvaluations: EVALUATIONS } }));
  gateway = await startGateway({ dataDir, args: ["--config", configFile] });
  expect((await postJson(`${gateway.url}/v1/streams`, { name: "samples", partitions: 1 })).status).toBe(201);
  for (let start = 0; start < RECORDS; start += 500) {
    const records = Array.from({ length: 500 }, (_, j) => ({ partition: 0, ...sample(start + j) }));
    expect((await postJson(`${gateway.url}/v1/streams/samples/records?acks=durable`, { records })).status).toBe(200);
  }
});

afterAll(async () => {
  await gateway?.stop();
  removeDir(dataDir);
  removeDir(configDir);
});

test("the issue's filter selects exactly the matching records of [offset, next_offset)", async () => {
  const page = await readJson({ offset: 100, max_records: 20, filter: ISSUE_FILTER });
  expect(page.records.length).toBe(20);
  const examined = Array.from({ length: page.next_offset - 100 }, (_, k) => 100 + k);
  expect(page.records.map((r) => r.fields.i)).toEqual(examined.filter(issueSelects));
  expect(page.records.map((r) => r.offset)).toEqual(page.records.map((r) => r.fields.i));
  // next_offset is the record after the last one examined, which here is the last match.
  expect(page.next_offset).toBe(page.records.at(-1)!.offset + 1);
  expect(page.end_offset).toBe(RECORDS);
});

test("a filter over headers, key and timestamp", async () => {
  const page = await readJson({ offset: 0, max_records: 10, filter: 'headers.source == "cam-1" && key_string.endsWith("1") && timestamp > 0' });
  expect(page.records.map((r) => r.fields.i)).toEqual([1, 21, 41, 61, 81, 101, 121, 141, 161, 181]);
});

test("a filter that matches nothing still advances, bounded by maxFilterEvaluations per read", async () => {
  let offset = 0;
  const nexts: number[] = [];
  while (offset < RECORDS) {
    const page = await readJson({ offset, filter: "fields.i < 0" });
    expect(page.records).toEqual([]);
    expect(page.next_offset).toBeGreaterThan(offset);
    nexts.push(page.next_offset);
    offset = page.next_offset;
  }
  expect(nexts).toEqual([1000, 2000, 3000]);
  // At the end of the log a filtered read answers at once with nothing, like an unfiltered one.
  const end = await readJson({ offset: RECORDS, filter: "true" });
  expect(end).toEqual({ records: [], next_offset: RECORDS, end_offset: RECORDS });
});

test("JSON and MessagePack answers hold the same records, with and without a projection", async () => {
  const query = { offset: 0, max_records: 30, filter: "fields.i % 7 == 0" };
  const json = await readJson(query);
  const projections: Record<string, string>[] = [{}, { fields: "i,tags" }];
  for (const extra of projections) {
    const response = await fetch(readUrl({ ...query, ...extra }), { headers: { accept: "application/msgpack" } });
    expect(response.status).toBe(200);
    const page = decoder.decode(new Uint8Array(await response.arrayBuffer())) as { records: { offset: number; fields: { i: number } }[]; next_offset: number };
    expect(page.records.map((r) => r.offset)).toEqual(json.records.map((r) => r.offset));
    expect(page.records.map((r) => r.fields.i)).toEqual(json.records.map((r) => r.fields.i));
    expect(page.next_offset).toBe(json.next_offset);
  }
  expect(json.records.map((r) => r.fields.i)).toEqual(Array.from({ length: 30 }, (_, k) => k * 7));
});

test("bad expressions are 400 BAD_FILTER with their position; an over-long one too", async () => {
  const cases: [string, string][] = [
    ["fields.i >", "at 1:10"],
    ["fields.i > 1 &&\n  nope(fields.i)", "at 2:3: unknown function 'nope'"],
    ["quality_score > 0.9", "at 1:1: unknown variable 'quality_score'"],
    ["x".repeat(5000), "the limit is 4096"],
    ["", "filter is empty"],
  ];
  for (const [filter, message] of cases) {
    const { status, body } = await getJson(readUrl({ offset: 0, filter }));
    expect(status).toBe(400);
    expect(body.error.code).toBe("BAD_FILTER");
    expect(body.error.message).toContain(message);
  }
});

test("a filtered range replays identically on a second read and after a gateway restart", async () => {
  const query = { offset: 1234, max_records: 50, filter: '"verified" in fields.tags && fields.quality_score < 0.5' };
  const first = await readJson(query);
  expect(first.records.length).toBe(50);
  const second = await readJson(query);
  expect(second).toEqual(first);
  await gateway.stop();
  gateway = await startGateway({ dataDir, args: ["--config", configFile] });
  const afterRestart = await readJson(query);
  expect(afterRestart).toEqual(first);
  // The range [offset, next_offset) read in smaller steps selects the same records.
  const stepped: typeof first.records = [];
  let offset = query.offset;
  while (offset < first.next_offset) {
    const page = await readJson({ ...query, offset, max_records: 7 });
    stepped.push(...page.records.filter((r) => r.offset < first.next_offset));
    offset = page.next_offset;
  }
  expect(stepped).toEqual(first.records);
});

test("a long-poll at the end of the log wakes on the next append and answers what the filter selects among it", async () => {
  const end = RECORDS;
  const publish = (i: number) => postJson(`${gateway.url}/v1/streams/samples/records`, { records: [{ partition: 0, ...sample(i) }] });
  const waiting = readJson({ offset: end, wait_ms: 60_000, filter: "fields.i == 9999" });
  expect((await publish(5000)).status).toBe(200); // wakes the read; does not match
  const first = await waiting;
  expect(first.records).toEqual([]);
  expect(first.next_offset).toBe(end + 1);
  const again = readJson({ offset: end + 1, wait_ms: 60_000, filter: "fields.i == 9999" });
  expect((await publish(9999)).status).toBe(200);
  const second = await again;
  expect(second.records.map((r) => r.fields.i)).toEqual([9999]);
  expect(second.next_offset).toBe(end + 2);
});

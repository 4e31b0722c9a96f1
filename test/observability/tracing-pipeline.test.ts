// A trace across three streams, end to end: a producer publishes to s1 with a W3C traceparent; a
// TypeScript queue worker consumes s1 and publishes a derived record to s2 (publishRecords with
// derivedFrom); a Python worker (python/tests/trace_stage.py) consumes s2 and publishes to s3
// (Client.publish(derived_from=)); `strata trace` (the real CLI process) then shows the three
// stages in order with one trace id. Also: a record without tracing headers, a missing source, a
// cycle and --max-hops.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { z } from "zod";
import { publishRecords, work } from "../../gateway/client.ts";
import { startCli } from "../helpers/cli-process.ts";
import { removeDir, startGateway, type GatewayProcess } from "../helpers/gateway.ts";
import { postJson } from "../helpers/in-process-gateway.ts";
import { PYTHON_DIR, runPythonAsync } from "../helpers/python.ts";

const TRACE = "0af7651916cd43dd8448eb211c80319c";
const PRODUCER_SPAN = "b7ad6b7169203331";

const traceJson = z.object({
  stages: z.array(z.object({ stream: z.string(), partition: z.number(), offset: z.number(), timestamp: z.number(), trace_id: z.string().nullable(), span_id: z.string().nullable(), since_previous_ms: z.number().nullable() })),
  missing_source: z.object({ source: z.string(), reason: z.string() }).nullable(),
});

let gateway: GatewayProcess;

beforeAll(async () => {
  gateway = await startGateway();
  for (const name of ["pipe/s1", "pipe/s2", "pipe/s3", "pipe/loose"]) expect((await postJson(`${gateway.url}/v1/streams`, { name })).status).toBe(201);
});

afterAll(async () => {
  await gateway?.stop();
  if (gateway) removeDir(gateway.dataDir);
});

async function strataTrace(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = startCli(gateway.url, ["trace", ...args]);
  const code = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

async function publishJson(stream: string, records: unknown[], headers: Record<string, string> = {}): Promise<{ partition: number; offset: number }[]> {
  const response = await fetch(`${gateway.url}/v1/streams/${encodeURIComponent(stream)}/records`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ records }) });
  expect(response.status).toBe(200);
  return ((await response.json()) as { records: { partition: number; offset: number }[] }).records;
}

describe("a trace across three streams", () => {
  let s3Offset: number;

  beforeAll(async () => {
    // Stage 1: the producer.
    await publishJson("pipe/s1", [{ fields: { frame: 1 } }], { traceparent: `00-${TRACE}-${PRODUCER_SPAN}-01` });

    // Stage 2: a TypeScript queue worker over s1, publishing what it made of the record to s2.
    const stop = new AbortController();
    const summary = await work({
      gateway: gateway.url,
      group: "pipe-ts",
      streams: ["pipe/s1"],
      signal: stop.signal,
      handler: async (record) => {
        await publishRecords({ gateway: gateway.url }, "pipe/s2", [{ key: null, headers: {}, fields: { stage: "ts", frame: 1 } }], { derivedFrom: record });
        stop.abort();
      },
    });
    expect(summary.acked).toBe(1);

    // Stage 3: a Python worker over s2, publishing to s3.
    const python = await runPythonAsync(["-m", "tests.trace_stage", gateway.url, "pipe-py", "pipe/s2", "pipe/s3"], { cwd: PYTHON_DIR, timeoutMs: 120_000 });
    if (python.code !== 0) throw new Error(`python stage exited ${python.code}:\n${python.stdout}${python.stderr}`);
    s3Offset = z.object({ partition: z.literal(0), offset: z.number() }).parse(JSON.parse(python.stdout)).offset;
  }, 180_000);

  test("strata trace --json shows s1 → s2 → s3 with one trace id and non-negative stage times", async () => {
    const { code, stdout, stderr } = await strataTrace("pipe/s3", "0", String(s3Offset), "--json");
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const path = traceJson.parse(JSON.parse(stdout));
    expect(path.missing_source).toBeNull();
    expect(path.stages.map((s) => `${s.stream}/${s.partition}/${s.offset}`)).toEqual(["pipe/s1/0/0", "pipe/s2/0/0", `pipe/s3/0/${s3Offset}`]);
    expect(path.stages.map((s) => s.trace_id)).toEqual([TRACE, TRACE, TRACE]);
    const spans = path.stages.map((s) => s.span_id);
    expect(spans[0]).toBe(PRODUCER_SPAN);
    expect(new Set(spans).size).toBe(3);
    expect(path.stages[0]!.since_previous_ms).toBeNull();
    for (const stage of path.stages.slice(1)) expect(stage.since_previous_ms).toBeGreaterThanOrEqual(0);
    for (let i = 1; i < path.stages.length; i++) expect(path.stages[i]!.since_previous_ms).toBe(path.stages[i]!.timestamp - path.stages[i - 1]!.timestamp);
  });

  test("the text form lists the stages oldest first", async () => {
    const { code, stdout } = await strataTrace("pipe/s3", "0", String(s3Offset));
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^STAGE\s+RECORD\s+TRACE\s+SPAN\s+TIME\s+SINCE PREVIOUS$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 3))).toEqual([
      ["1", "pipe/s1/0/0", TRACE],
      ["2", "pipe/s2/0/0", TRACE],
      ["3", `pipe/s3/0/${s3Offset}`, TRACE],
    ]);
    expect(lines[1]!.trimEnd().endsWith(" -")).toBe(true);
    for (const line of lines.slice(2)) expect(line).toMatch(/\+\d+ ms$/);
  });

  test("--max-hops bounds the walk", async () => {
    const { code, stderr } = await strataTrace("pipe/s3", "0", String(s3Offset), "--max-hops", "1");
    expect(code).toBe(1);
    expect(stderr).toContain("more than 1 hops");
  });
});

describe("paths that end early or never end", () => {
  test("a record without tracing headers prints just itself", async () => {
    const [position] = await publishJson("pipe/loose", [{ fields: { n: 1 } }]);
    const { code, stdout } = await strataTrace("pipe/loose", "0", String(position!.offset), "--json");
    expect(code).toBe(0);
    const path = traceJson.parse(JSON.parse(stdout));
    expect(path.stages).toHaveLength(1);
    expect(path.stages[0]).toMatchObject({ stream: "pipe/loose", trace_id: null, span_id: null, since_previous_ms: null });
  });

  test("a missing source is named, after the stages that were found (exit 1)", async () => {
    const [position] = await publishJson("pipe/loose", [{ headers: { "strata-source": "pipe/loose/0/999999" }, fields: { n: 2 } }]);
    const { code, stdout } = await strataTrace("pipe/loose", "0", String(position!.offset));
    expect(code).toBe(1);
    expect(stdout).toContain(`pipe/loose/0/${position!.offset}`);
    expect(stdout).toContain("source pipe/loose/0/999999 of stage 1 is missing");
    const gone = await strataTrace("pipe/loose", "0", String(position!.offset), "--json");
    expect(traceJson.parse(JSON.parse(gone.stdout)).missing_source?.source).toBe("pipe/loose/0/999999");
    const [other] = await publishJson("pipe/loose", [{ headers: { "strata-source": "pipe/nowhere/0/0" }, fields: { n: 3 } }]);
    const noStream = await strataTrace("pipe/loose", "0", String(other!.offset));
    expect(noStream.code).toBe(1);
    expect(noStream.stdout).toContain("source pipe/nowhere/0/0 of stage 1 is missing: STREAM_NOT_FOUND");
  });

  test("a cycle is an error", async () => {
    const [first] = await publishJson("pipe/loose", [{ fields: { n: 4 } }]);
    const next = first!.offset + 1;
    await publishJson("pipe/loose", [{ headers: { "strata-source": `pipe/loose/0/${next + 1}` }, fields: { n: 5 } }, { headers: { "strata-source": `pipe/loose/0/${next}` }, fields: { n: 6 } }]);
    const { code, stderr } = await strataTrace("pipe/loose", "0", String(next + 1));
    expect(code).toBe(1);
    expect(stderr).toContain("has a cycle");
  });

  test("a record that is not there is an error", async () => {
    const { code, stderr } = await strataTrace("pipe/loose", "0", "999999");
    expect(code).toBe(1);
    expect(stderr).toContain("pipe/loose/0/999999: OFFSET_OUT_OF_RANGE");
  });
});

// `strata publish` as a real process against a real gateway: batches cut by bytes (three 6 MiB
// records pass a 16 MiB batch limit), a bad line stops the run with the count and the line to
// resume from, --skip-bad, the stream auto-creation rule and --quiet.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cli } from "../edge/edge-fixtures.ts";
import { type GatewayProcess, removeDir, startGateway } from "../helpers/gateway.ts";

const MiB = 1024 * 1024;

let gateway: GatewayProcess;
beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(async () => {
  await gateway?.stop();
  if (gateway) removeDir(gateway.dataDir);
});

const strata = (args: string[], stdin?: string) => cli([...args, "--gateway", gateway.url], stdin).done;

async function endOffsets(stream: string): Promise<number[]> {
  const r = await strata(["streams", "get", stream, "--json"]);
  if (r.code !== 0) throw new Error(r.stderr);
  return (JSON.parse(r.stdout) as { partitions: { end_offset: number }[] }).partitions.map((p) => p.end_offset);
}

function lines(from: number, to: number): string[] {
  return Array.from({ length: to - from }, (_, i) => JSON.stringify({ n: from + i }));
}

describe("strata publish", () => {
  test("records larger together than the gateway's batch limit are split by bytes: three 6 MiB records publish", async () => {
    await strata(["streams", "create", "pub/big"]);
    const big = "x".repeat(6 * MiB);
    const input = [0, 1, 2].map((n) => JSON.stringify({ n, big })).join("\n");
    const r = await strata(["publish", "pub/big"], input);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n").map((l) => JSON.parse(l) as unknown)).toEqual([0, 1, 2].map((offset) => ({ partition: 0, offset })));
    expect(await endOffsets("pub/big")).toEqual([3]);
    const back = await strata(["consume", "pub/big", "--fields", "n"]);
    expect(back.stdout.trim().split("\n").map((l) => (JSON.parse(l) as { fields: { n: number } }).fields.n)).toEqual([0, 1, 2]);
    // The limit is real: one request holding all three is refused, and says where to resume.
    const unsplit = await strata(["publish", "pub/big", "--batch-bytes", "32M"], input);
    expect(unsplit.code).toBe(1);
    expect(unsplit.stderr).toContain("BATCH_TOO_LARGE");
    expect(unsplit.stderr).toContain("0 records published; resume from line 1");
    expect(await endOffsets("pub/big")).toEqual([3]);
  }, 60_000);

  test("a bad line stops the run after the lines before it: the count, the line to resume from, exit 1", async () => {
    await strata(["streams", "create", "pub/stop"]);
    const input = [...lines(0, 2000), "{not json", ...lines(2001, 2500)].join("\n");
    const r = await strata(["publish", "pub/stop", "--batch", "1000"], input);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("line 2001: not JSON");
    expect(r.stderr).toContain("2000 records published; resume from line 2001");
    expect(r.stderr).toContain("tail -n +2001");
    expect(r.stdout.trim().split("\n")).toHaveLength(2000);
    expect(await endOffsets("pub/stop")).toEqual([2000]);

    // Resuming from that line, fixed, completes the stream without a duplicate.
    const rest = [JSON.stringify({ n: 2000 }), ...lines(2001, 2500)].join("\n");
    expect((await strata(["publish", "pub/stop", "--quiet"], rest)).code).toBe(0);
    const back = await strata(["consume", "pub/stop", "--json"]);
    expect(back.stdout.trim().split("\n").map((l) => (JSON.parse(l) as { fields: { n: number } }).fields.n)).toEqual(Array.from({ length: 2500 }, (_, i) => i));
  }, 60_000);

  test("a record the gateway would refuse is a bad line too (not a JSON object, a bad $base64, a bad key)", async () => {
    const notObject = await strata(["publish", "pub/stop", "--no-create"], `${JSON.stringify({ n: 1 })}\n[1, 2]\n`);
    expect(notObject.code).toBe(1);
    expect(notObject.stderr).toContain("line 2: expected a JSON object");
    expect(notObject.stderr).toContain("1 record published; resume from line 2");
    const badBytes = await strata(["publish", "pub/stop"], `${JSON.stringify({ b: { $base64: "not base64!" } })}\n`);
    expect(badBytes.stderr).toContain("line 1: BAD_REQUEST: invalid base64");
    const badKey = await strata(["publish", "pub/stop", "--records"], `${JSON.stringify({ key: 5, fields: {} })}\n`);
    expect(badKey.stderr).toContain("line 1: key:");
  });

  test("--skip-bad skips bad lines, counts them on stderr and publishes the rest", async () => {
    await strata(["streams", "create", "pub/skip"]);
    const input = [...lines(0, 10), "oops", ...lines(11, 20), "[]", ...lines(21, 30)].join("\n");
    const r = await strata(["publish", "pub/skip", "--skip-bad", "--batch", "7"], input);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("skipped line 11: not JSON");
    expect(r.stderr).toContain("skipped line 21: expected a JSON object");
    expect(r.stderr).toContain("published 28 records, skipped 2 bad lines");
    expect(await endOffsets("pub/skip")).toEqual([28]);
  });

  test("a missing stream is created with one partition; --no-create refuses instead", async () => {
    const refused = await strata(["publish", "pub/auto", "--no-create", "--json", '{"a": 1}']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("STREAM_NOT_FOUND");
    expect(refused.stderr).toContain("0 records published; resume from line 1");
    const created = await strata(["publish", "pub/auto", "--json", '{"a": 1}']);
    expect(created.code).toBe(0);
    expect(created.stdout).toBe('{"partition":0,"offset":0}\n');
    expect(created.stderr).toContain("created stream pub/auto (1 partition");
    expect(await endOffsets("pub/auto")).toEqual([1]);
  });

  test("--quiet prints nothing on success", async () => {
    const r = await strata(["publish", "pub/auto", "--quiet"], lines(0, 5).join("\n"));
    expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
  });
});

// The client commands against a real gateway process, as a user types them.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT, startGateway, type GatewayProcess } from "../helpers/gateway.ts";

let gateway: GatewayProcess;
beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(() => gateway.stop());

function strata(args: string[], input?: string): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(ROOT, "cli/main.ts"), ...args, "--gateway", gateway.url], { input, encoding: "utf8" });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

test("streams create, publish from stdin and --json, consume, streams list", () => {
  const created = strata(["streams", "create", "cli/demo", "--partitions", "2"]);
  expect(created.status).toBe(0);
  expect(JSON.parse(created.stdout).partitions).toHaveLength(2);

  const lines = ['{"n": 1, "blob": {"$base64": "AAE="}}', "", '{"n": 2}', '{"n": 3}'].join("\n");
  const published = strata(["publish", "cli/demo", "--key", "k", "--batch", "2"], lines);
  expect(published.status).toBe(0);
  const positions = published.stdout.trim().split("\n").map((l) => JSON.parse(l) as { partition: number; offset: number });
  expect(positions.map((p) => p.offset)).toEqual([0, 1, 2]);
  const partition = positions[0]!.partition;
  expect(positions.every((p) => p.partition === partition)).toBe(true); // one key, one partition

  expect(strata(["publish", "cli/demo", "--records", "--json", JSON.stringify({ partition, fields: { n: 4 }, headers: { h: "v" } })]).status).toBe(0);

  const consumed = strata(["consume", "cli/demo", "--partition", String(partition), "--from", "1"]);
  expect(consumed.status).toBe(0);
  const records = consumed.stdout.trim().split("\n").map((l) => JSON.parse(l) as { offset: number; fields: { n: number }; headers: Record<string, string> });
  expect(records.map((r) => [r.offset, r.fields.n])).toEqual([[1, 2], [2, 3], [3, 4]]);
  expect(records[2]!.headers).toEqual({ h: "v" });

  const listed = strata(["streams", "list"]);
  expect(listed.stdout).toContain("cli/demo\tpartitions=2\trecords=4");
});

test("errors are one line with the gateway's code; usage errors exit 2", () => {
  const missing = strata(["publish", "cli/none", "--json", "{}", "--no-create"]);
  expect(missing.status).toBe(1);
  expect(missing.stderr).toContain("STREAM_NOT_FOUND");
  // A bad input line is not a usage error: the run stops there and says where to resume (exit 1).
  const notJson = strata(["publish", "cli/demo"], "{oops\n");
  expect(notJson.status).toBe(1);
  expect(notJson.stderr).toContain("line 1: not JSON");
  expect(strata(["consume"]).status).toBe(2);
  expect(strata(["streams", "create", "../x"]).stderr).toContain("INVALID_STREAM_NAME");
});

// `strata datasets create|list|show|delete` against a real `strata serve` process, the CLI run as
// a child process like a user runs it.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { datasetListSchema, datasetVersionSchema } from "../../gateway/datasets/dataset-wire.ts";
import { ROOT, type GatewayProcess, removeDir, startGateway } from "../helpers/gateway.ts";

setDefaultTimeout(120_000);

let gateway: GatewayProcess;

interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

function strata(args: string[], input?: string): Run {
  const result = spawnSync(process.execPath, [join(ROOT, "cli/main.ts"), ...args, "--gateway", gateway.url], { input, encoding: "utf8" });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function ok(run: Run): string {
  if (run.status !== 0) throw new Error(`exit ${run.status}:\n${run.stdout}${run.stderr}`);
  return run.stdout;
}

beforeAll(async () => {
  gateway = await startGateway();
  ok(strata(["streams", "create", "cli/data", "--partitions", "2"]));
  const lines = Array.from({ length: 10 }, (_, n) => JSON.stringify({ n, label: n % 2 === 0 ? "even" : "odd" })).join("\n");
  ok(strata(["publish", "cli/data"], `${lines}\n`));
});

afterAll(async () => {
  await gateway.stop();
  removeDir(gateway.dataDir);
});

describe("strata datasets", () => {
  test("create prints the version; --json keeps created_at in ms; --filter, --fields and --span-samples reach the gateway", async () => {
    const first = JSON.parse(ok(strata(["datasets", "create", "cli-set", "--stream", "cli/data"]))) as Record<string, unknown>;
    expect(first).toMatchObject({ name: "cli-set", version: 1, stream: "cli/data", samples: 10 });
    expect(typeof first.created_at).toBe("string");
    expect(Number.isNaN(Date.parse(String(first.created_at)))).toBe(false);
    const second = datasetVersionSchema.parse(JSON.parse(ok(strata(["datasets", "create", "cli-set", "--stream", "cli/data", "--filter", 'fields.label == "even"', "--fields", "n", "--span-samples", "2", "--json"]))));
    expect(second).toMatchObject({ version: 2, samples: 5, filter: 'fields.label == "even"', fields: ["n"], span_samples: 2 });
  });

  test("list and show, as lines and as JSON", async () => {
    expect(ok(strata(["datasets", "list"]))).toBe("cli-set\tstream=cli/data\tversions=2\tlatest=2\n");
    const listed = datasetListSchema.parse(JSON.parse(ok(strata(["datasets", "list", "--json"]))));
    expect(listed.datasets).toEqual([{ name: "cli-set", stream: "cli/data", versions: 2, latest: 2 }]);
    const shown = ok(strata(["datasets", "show", "cli-set", "--json"]))
      .trim()
      .split("\n")
      .map((line) => datasetVersionSchema.parse(JSON.parse(line)));
    expect(shown.map((v) => v.version)).toEqual([1, 2]);
    const one = datasetVersionSchema.parse(JSON.parse(ok(strata(["datasets", "show", "cli-set", "1", "--json"]))));
    expect(one.samples).toBe(10);
    expect(datasetVersionSchema.parse(JSON.parse(ok(strata(["datasets", "show", "cli-set", "latest", "--json"])))).version).toBe(2);
  });

  test("delete releases a version; errors exit 1 with the gateway's message, bad usage exits 2", async () => {
    expect(ok(strata(["datasets", "delete", "cli-set", "1"]))).toBe("released cli-set version 1\n");
    const gone = strata(["datasets", "show", "cli-set", "1"]);
    expect(gone.status).toBe(1);
    expect(gone.stderr).toContain("NOT_FOUND");
    const missing = strata(["datasets", "create", "x", "--stream", "no/such"]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("STREAM_NOT_FOUND");
    const badFilter = strata(["datasets", "create", "x", "--stream", "cli/data", "--filter", "fields.n >"]);
    expect(badFilter.status).toBe(1);
    expect(badFilter.stderr).toContain("BAD_FILTER");
    expect(strata(["datasets", "create", "x"]).status).toBe(2);
    expect(strata(["datasets", "show", "cli-set", "zero"]).status).toBe(2);
  });
});

// `strata consume` as a real process against a real gateway: every partition by default (each
// line carries partition and offset), --partition, --from earliest|latest|OFFSET|ISO-TIME, --max,
// keys as text when UTF-8, ISO times (numbers with --json), and --follow across a gateway killed
// with SIGKILL and restarted on the same port and data directory.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cli, freePort, waitFor } from "../edge/edge-fixtures.ts";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";

interface Line {
  partition: number;
  offset: number;
  timestamp: number | string;
  key: string | { $base64: string } | null;
  headers: Record<string, unknown>;
  fields: { n: number };
}

let gateway: GatewayProcess;
const STREAM = "con/multi";
const PARTITIONS = 3;
const ROUNDS = 4;

const strata = (args: string[], stdin?: string, url = gateway.url) => cli([...args, "--gateway", url], stdin).done;

function parse(stdout: string): Line[] {
  return stdout
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Line);
}

async function consume(args: string[]): Promise<Line[]> {
  const r = await strata(["consume", ...args]);
  if (r.code !== 0) throw new Error(`consume ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return parse(r.stdout);
}

const position = (l: Line): string => `${l.partition}:${l.offset}`;

beforeAll(async () => {
  gateway = await startGateway();
  expect((await strata(["streams", "create", STREAM, "--partitions", String(PARTITIONS)])).code).toBe(0);
  // ROUNDS requests, one record per partition each: n = round * PARTITIONS + partition.
  for (let round = 0; round < ROUNDS; round++) {
    const records = Array.from({ length: PARTITIONS }, (_, p) => JSON.stringify({ partition: p, fields: { n: round * PARTITIONS + p } }));
    expect((await strata(["publish", STREAM, "--records", "--quiet"], records.join("\n"))).code).toBe(0);
  }
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  if (gateway) removeDir(gateway.dataDir);
});

describe("strata consume", () => {
  test("reads every partition by default; each line carries partition, offset and an ISO time", async () => {
    const all = await consume([STREAM]);
    expect(all).toHaveLength(PARTITIONS * ROUNDS);
    expect(new Set(all.map(position)).size).toBe(all.length);
    for (let p = 0; p < PARTITIONS; p++) {
      const mine = all.filter((l) => l.partition === p);
      expect(mine.map((l) => l.offset)).toEqual([0, 1, 2, 3]);
      expect(mine.map((l) => l.fields.n)).toEqual([0, 1, 2, 3].map((round) => round * PARTITIONS + p));
    }
    for (const l of all) expect(l.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    const json = await consume([STREAM, "--json"]);
    expect(json.map(position)).toEqual(all.map(position));
    json.forEach((l, i) => expect(new Date(l.timestamp as number).toISOString()).toBe(all[i]!.timestamp as string));
  });

  test("--partition narrows to one partition", async () => {
    const one = await consume([STREAM, "--partition", "1"]);
    expect(one.map((l) => [l.partition, l.offset])).toEqual([[1, 0], [1, 1], [1, 2], [1, 3]]);
    const missing = await strata(["consume", STREAM, "--partition", "7"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("PARTITION_NOT_FOUND");
  });

  test("--from earliest, latest and OFFSET (an offset past the end starts at the end)", async () => {
    expect(await consume([STREAM, "--from", "earliest"])).toHaveLength(PARTITIONS * ROUNDS);
    expect(await consume([STREAM, "--from", "latest"])).toEqual([]);
    const from2 = await consume([STREAM, "--from", "2"]);
    expect(from2.map(position).sort()).toEqual(["0:2", "0:3", "1:2", "1:3", "2:2", "2:3"]);
    const past = await strata(["consume", STREAM, "--from", "99"]);
    expect(past.code).toBe(0);
    expect(past.stdout).toBe("");
    expect(past.stderr).toContain("starting at 4, not 99");
  });

  test("--from ISO-TIME starts each partition at its first record at or after that time", async () => {
    const all = await consume([STREAM, "--json"]);
    const times = [...new Set(all.map((l) => l.timestamp as number))].sort((a, b) => a - b);
    for (const t of [times[0]! - 1, ...times, times[times.length - 1]! + 1]) {
      const expected = all.filter((l) => (l.timestamp as number) >= t).map(position).sort();
      const got = await consume([STREAM, "--from", new Date(t).toISOString()]);
      expect({ t, got: got.map(position).sort() }).toEqual({ t, got: expected });
    }
    // A date alone is midnight UTC; the year 2000 is before every record.
    expect(await consume([STREAM, "--from", "2000-01-01"])).toHaveLength(all.length);
  });

  test("--max stops after N records across partitions", async () => {
    const three = await consume([STREAM, "--max", "3"]);
    expect(three).toHaveLength(3);
    expect(await consume([STREAM, "--max", "100"])).toHaveLength(PARTITIONS * ROUNDS);
  });

  test("keys print as strings when they are UTF-8, else as {$base64}; headers and fields as published", async () => {
    const records = [
      { key: "cam-1", fields: { n: 0 }, headers: { h: "v" } },
      { key: { $base64: "/w==" }, fields: { n: 1 } }, // 0xFF: not UTF-8
      { key: "ünï-ç0de ✓", fields: { n: 2 } },
      { fields: { n: 3 } },
    ].map((r) => JSON.stringify({ ...r, partition: 0 }));
    expect((await strata(["publish", "con/keys", "--records", "--quiet"], records.join("\n"))).code).toBe(0);
    const back = await consume(["con/keys"]);
    expect(back.map((l) => l.key)).toEqual(["cam-1", { $base64: "/w==" }, "ünï-ç0de ✓", null]);
    expect(back[0]!.headers).toEqual({ h: "v" });
    // What consume --json prints, publish --records reads back.
    const copy = await strata(["consume", "con/keys", "--json"]);
    expect((await strata(["publish", "con/keys-copy", "--records", "--quiet"], copy.stdout)).code).toBe(0);
    expect((await consume(["con/keys-copy"])).map((l) => [l.key, l.fields])).toEqual(back.map((l) => [l.key, l.fields]));
  });
});

describe("strata consume --follow", () => {
  test("keeps reading across a gateway SIGKILL and restart, resuming at the next offset: nothing lost, nothing twice", async () => {
    const port = await freePort();
    const dataDir = tempDir("strata-cli-follow-");
    const url = `http://127.0.0.1:${port}`;
    let gw = await startGateway({ dataDir, args: ["--port", String(port)] });
    expect((await strata(["streams", "create", "con/follow", "--partitions", "2"], undefined, url)).code).toBe(0);
    const follower = cli(["consume", "con/follow", "--follow", "--json", "--gateway", url]);
    try {
      const batch = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => JSON.stringify({ partition: (from + i) % 2, fields: { n: from + i } })).join("\n");
      const lines = (): Line[] => parse(follower.output().split("\n").filter((l) => l.startsWith("{")).join("\n"));

      expect((await strata(["publish", "con/follow", "--records", "--quiet"], batch(0, 10), url)).code).toBe(0);
      await waitFor(() => lines().length >= 10, 20_000, "the first 10 records");

      await gw.kill();
      gw = await startGateway({ dataDir, args: ["--port", String(port)] });
      expect((await strata(["publish", "con/follow", "--records", "--quiet"], batch(10, 20), url)).code).toBe(0);
      await waitFor(() => lines().length >= 20, 30_000, "the 10 records published after the restart");

      follower.child.kill("SIGINT");
      const done = await follower.done;
      expect(done.code).toBe(0);
      const got = parse(done.stdout);
      expect(got.map((l) => l.fields.n).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(new Set(got.map(position)).size).toBe(20);
      for (const p of [0, 1]) expect(got.filter((l) => l.partition === p).map((l) => l.offset)).toEqual(Array.from({ length: 10 }, (_, i) => i));
      expect(done.stderr).toContain(`lost the gateway at ${url}`);
      expect(done.stderr).toContain(`reconnected to the gateway at ${url}`);
    } finally {
      if (follower.child.exitCode === null) follower.child.kill("SIGKILL");
      await gw.stop();
      removeDir(dataDir);
    }
  }, 90_000);

  test("started while the gateway is down, it waits for it and then reads", async () => {
    const port = await freePort();
    const dataDir = tempDir("strata-cli-follow-down-");
    const url = `http://127.0.0.1:${port}`;
    let gw = await startGateway({ dataDir, args: ["--port", String(port)] });
    expect((await strata(["publish", "con/later", "--records", "--quiet"], JSON.stringify({ fields: { n: 1 } }), url)).code).toBe(0);
    await gw.stop();
    const follower = cli(["consume", "con/later", "--follow", "--gateway", url]);
    try {
      await waitFor(() => follower.output().includes(`lost the gateway at ${url} (connection refused)`), 20_000, "the follower to notice");
      gw = await startGateway({ dataDir, args: ["--port", String(port)] });
      await waitFor(() => follower.output().includes('"n":1'), 30_000, "the record");
      follower.child.kill("SIGINT");
      const done = await follower.done;
      expect(done.code).toBe(0);
      expect(parse(done.stdout).map((l) => l.fields.n)).toEqual([1]);
    } finally {
      if (follower.child.exitCode === null) follower.child.kill("SIGKILL");
      await gw.stop();
      removeDir(dataDir);
    }
  }, 90_000);

  test("--follow --from latest prints only what is published after it started", async () => {
    const follower = cli(["consume", STREAM, "--follow", "--from", "latest", "--log-level", "debug", "--gateway", gateway.url]);
    try {
      // At debug level the follower says where each partition starts: after that, anything published is new.
      await waitFor(() => follower.output().split("reading partition").length > PARTITIONS, 20_000, "the follower's start offsets");
      const published = await strata(["publish", STREAM, "--records", "--quiet"], JSON.stringify({ partition: 2, fields: { n: 1000 } }));
      expect(published.code).toBe(0);
      await waitFor(() => follower.output().includes('"n":1000'), 20_000, "the new record");
      const lines = parse(follower.output().split("\n").filter((l) => l.startsWith("{")).join("\n"));
      expect(lines.map((l) => l.fields.n)).toEqual([1000]);
    } finally {
      follower.child.kill("SIGINT");
      expect((await follower.done).code).toBe(0);
    }
  }, 60_000);
});

// All-or-none checkpoints with real processes: a gateway process, and 4 Python rank processes per
// checkpoint (strata.checkpoint.save). Checkpoint c1 completes; then the 4 ranks save c2 and one
// of them is SIGKILLed in the middle of its upload (its shard comes through a FIFO this test
// writes: once 8 MiB of it were taken, the rank is killed with the FIFO still open). c2 never
// becomes visible, `latest` stays c1 and every rank's strata.checkpoint.load answers exactly its
// c1 shard and state; the same after a gateway restart.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { removeDir, startGateway, tempDir, type GatewayProcess } from "../helpers/gateway.ts";
import { PYTHON_DIR, python, runPythonAsync } from "../helpers/python.ts";
import { randomBytes } from "../artefacts/gateway-fixture.ts";
import { waitFor } from "../edge/edge-fixtures.ts";

const WORLD = 4;
const MiB = 1024 * 1024;
const JOB = "kill-test";

/** One rank: saves its shard file (argv: url job id rank world step path state-json), prints the commit answer. */
const SAVE = `
import json, sys
import strata
from strata import checkpoint
url, job, cid, rank, world, step, path, state = sys.argv[1:9]
client = strata.Client(url)
print("uploading", flush=True)
answer = checkpoint.save(client, job, cid, int(rank), int(world), int(step), path, state=json.loads(state))
print(json.dumps(answer), flush=True)
`;

/** One rank's restart: loads its shard of the latest checkpoint (argv: url job rank out), prints the meta. */
const LOAD = `
import json, sys
import strata
from strata import checkpoint
url, job, rank, out = sys.argv[1:5]
meta = checkpoint.load(strata.Client(url), job, int(rank), out)
print(json.dumps({"id": meta["id"], "step": meta["step"], "rank": meta["rank"], "state": meta["state"], "size": meta["size"]}), flush=True)
`;

const commitSchema = z.object({ rank: z.number(), committed: z.number(), complete: z.boolean() });
const loadedSchema = z.object({ id: z.string(), step: z.number(), rank: z.number(), state: z.record(z.string(), z.unknown()), size: z.number() });

let gateway: GatewayProcess;
let dir: string;
let dataDir: string;

function stateOf(rank: number, step: number): Record<string, unknown> {
  return { rank, step, loader: { epoch: step, position: rank * 1000 + step }, offsets: { "train/0": step * 7 } };
}

function shardPath(id: string, rank: number): string {
  return join(dir, `${id}-rank${rank}.bin`);
}

async function saveRank(id: string, rank: number, step: number, path: string): Promise<z.output<typeof commitSchema>> {
  const result = await runPythonAsync(["-c", SAVE, gateway.url, JOB, id, String(rank), String(WORLD), String(step), path, JSON.stringify(stateOf(rank, step))], { cwd: PYTHON_DIR });
  if (result.code !== 0) throw new Error(`rank ${rank} save exited ${result.code}:\n${result.stdout}${result.stderr}`);
  return commitSchema.parse(JSON.parse(result.stdout.trim().split("\n").at(-1)!));
}

/** Every rank loads its shard of the latest checkpoint: c1's bytes and state. */
async function expectEveryRankLoadsC1(): Promise<void> {
  const loaded = await Promise.all(
    Array.from({ length: WORLD }, async (_, rank) => {
      const out = join(dir, `loaded-rank${rank}.bin`);
      const result = await runPythonAsync(["-c", LOAD, gateway.url, JOB, String(rank), out], { cwd: PYTHON_DIR });
      if (result.code !== 0) throw new Error(`rank ${rank} load exited ${result.code}:\n${result.stdout}${result.stderr}`);
      return { meta: loadedSchema.parse(JSON.parse(result.stdout.trim())), bytes: readFileSync(out) };
    }),
  );
  for (const [rank, { meta, bytes }] of loaded.entries()) {
    expect(meta).toEqual({ id: "c1", step: 1, rank, state: stateOf(rank, 1), size: 4 * MiB });
    expect(bytes.equals(readFileSync(shardPath("c1", rank)))).toBe(true);
  }
}

async function latestId(): Promise<string> {
  const res = await fetch(`${gateway.url}/v1/jobs/${JOB}/checkpoints/latest`);
  expect(res.status).toBe(200);
  return z.object({ id: z.string() }).parse(await res.json()).id;
}

beforeAll(async () => {
  python();
  dir = tempDir("strata-ckpt-kill-");
  dataDir = tempDir("strata-ckpt-kill-data-");
  gateway = await startGateway({ dataDir });
}, 600_000);

afterAll(async () => {
  await gateway?.stop();
  removeDir(dataDir);
  removeDir(dir);
});

test("a rank killed mid-upload leaves its checkpoint invisible; every rank loads the previous one, also after a restart", async () => {
  for (let rank = 0; rank < WORLD; rank++) writeFileSync(shardPath("c1", rank), randomBytes(4 * MiB, 100 + rank));
  const c1 = await Promise.all(Array.from({ length: WORLD }, (_, rank) => saveRank("c1", rank, 1, shardPath("c1", rank))));
  expect(c1.filter((a) => a.complete)).toHaveLength(1);
  expect(await latestId()).toBe("c1");

  // c2: ranks 0-2 save files; rank 3's shard is a FIFO this test feeds, so its upload is cut short
  // at a known point: after 8 MiB were taken, with the FIFO still open.
  const victim = WORLD - 1;
  const fifo = join(dir, "victim.fifo");
  expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
  const child = spawn(python(), ["-c", SAVE, gateway.url, JOB, "c2", String(victim), String(WORLD), "2", fifo, JSON.stringify(stateOf(victim, 2))], { cwd: PYTHON_DIR, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (output += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (output += d));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once("exit", (_code, signal) => resolve(signal)));
  // Opening the FIFO for writing waits for the rank to open it (inside its upload).
  const feed = createWriteStream(fifo);
  const chunk = randomBytes(1 * MiB, 200);
  for (let i = 0; i < 8; i++) await new Promise<void>((resolve, reject) => feed.write(chunk, (e) => (e ? reject(e) : resolve())));
  // 8 MiB written into a 64 KiB pipe: the rank has read (and sent) nearly all of it.
  await waitFor(() => output.includes("uploading"), 30_000, "the rank to say it is uploading");
  child.kill("SIGKILL");
  expect(await exited).toBe("SIGKILL");
  feed.destroy();
  expect(output).not.toContain('"committed"');

  for (let rank = 0; rank < victim; rank++) writeFileSync(shardPath("c2", rank), randomBytes(4 * MiB, 300 + rank));
  const c2 = await Promise.all(Array.from({ length: victim }, (_, rank) => saveRank("c2", rank, 2, shardPath("c2", rank))));
  expect(c2.map((a) => a.complete)).toEqual([false, false, false]);
  expect(Math.max(...c2.map((a) => a.committed))).toBe(WORLD - 1);

  expect(await latestId()).toBe("c1");
  expect((await fetch(`${gateway.url}/v1/jobs/${JOB}/checkpoints/c2`)).status).toBe(404);
  const listed = z.object({ checkpoints: z.array(z.object({ id: z.string() })) }).parse(await (await fetch(`${gateway.url}/v1/jobs/${JOB}/checkpoints`)).json());
  expect(listed.checkpoints.map((c) => c.id)).toEqual(["c1"]);
  await expectEveryRankLoadsC1();

  // A restart: the same checkpoint is latest and every rank loads the same bytes and state.
  await gateway.stop();
  gateway = await startGateway({ dataDir });
  expect(await latestId()).toBe("c1");
  expect((await fetch(`${gateway.url}/v1/jobs/${JOB}/checkpoints/c2`)).status).toBe(404);
  await expectEveryRankLoadsC1();
}, 300_000);

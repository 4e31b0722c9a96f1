// One rank of the checkpoint bench, a separate process (bench/checkpoints.ts):
//   bun bench/checkpoints/rank.ts push URL JOB RANK WORLD   -- TypeScript push (only missing chunks) + commit
//   bun bench/checkpoints/rank.ts disk OUTDIR RANK           -- write the shard file to local disk, fsync
// It prints "ready", then for each stdin line "ID STEP PATH" saves that shard and prints one JSON
// line {"seconds", "wire", "stored"}: bytes sent over the wire and bytes newly stored.
import { closeSync, fsyncSync, openSync, readSync, writeSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { pushArtefact } from "../../edge/artefacts/index.ts";

const PIECE = 8 * 1024 * 1024;

interface Saved {
  readonly wire: number;
  readonly stored: number;
}

async function pushAndCommit(url: string, job: string, rank: number, world: number, id: string, step: number, path: string): Promise<Saved> {
  const summary = await pushArtefact({ gateway: url, file: path, stream: `bench/ckpt-push/rank${rank}`, safetensors: false });
  const res = await fetch(`${url}/v1/jobs/${job}/checkpoints/${id}/ranks/${rank}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ artefact: summary.artefact, world_size: world, step, state: { step } }),
  });
  if (res.status !== 200 && res.status !== 201) throw new Error(`commit: ${res.status} ${await res.text()}`);
  return { wire: summary.bytesTransferred, stored: summary.bytesTransferred };
}

function writeToDisk(dir: string, rank: number, id: string, path: string): Saved {
  const from = openSync(path, "r");
  const to = openSync(join(dir, `${id}-rank${rank}.bin`), "w");
  const buffer = Buffer.allocUnsafe(PIECE);
  let total = 0;
  try {
    for (;;) {
      const n = readSync(from, buffer, 0, PIECE, null);
      if (n === 0) break;
      let done = 0;
      while (done < n) done += writeSync(to, buffer, done, n - done);
      total += n;
    }
    fsyncSync(to);
  } finally {
    closeSync(from);
    closeSync(to);
  }
  return { wire: 0, stored: total };
}

const [mode, ...args] = process.argv.slice(2);
const save: (id: string, step: number, path: string) => Promise<Saved> =
  mode === "push"
    ? (id, step, path) => pushAndCommit(args[0]!, args[1]!, Number(args[2]), Number(args[3]), id, step, path)
    : mode === "disk"
      ? async (id, _step, path) => writeToDisk(args[0]!, Number(args[1]), id, path)
      : (() => {
          throw new Error(`mode is push or disk, not ${mode}`);
        })();

process.stdout.write("ready\n");
for await (const line of createInterface({ input: process.stdin })) {
  const [id, step, path] = line.trim().split(" ");
  if (id === undefined || step === undefined || path === undefined) continue;
  const started = performance.now();
  const saved = await save(id, Number(step), path);
  process.stdout.write(`${JSON.stringify({ seconds: (performance.now() - started) / 1000, ...saved })}\n`);
}

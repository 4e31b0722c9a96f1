// Bounded resources under hostile load, against real gateway processes:
//   - request bytes in flight: 24 concurrent 63 MB publishes keep the gateway under 1 GiB RSS;
//     the excess is refused with 503 UNAVAILABLE and Retry-After, never 500, and every
//     acknowledged record is readable;
//   - file descriptors: 30 streams of 1,024 partitions under `ulimit -n 1024`, published to,
//     restarted, all listed and readable; a create past limits.maxGatewayPartitions (400) or one
//     whose partitions cannot be opened leaves nothing in the catalog.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeDir, ROOT, startGateway, tempDir } from "../helpers/gateway.ts";
import { makeFixture, records } from "../log/log-fixture.ts";

setDefaultTimeout(600_000);

const MiB = 1024 * 1024;
const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

interface Gateway {
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** `strata serve` under bash with a lowered `ulimit -n`. */
async function serveUnderUlimit(dataDir: string, configFile: string, nofile: number): Promise<Gateway> {
  const serve = [process.execPath, join(ROOT, "cli/main.ts"), "serve", "--data", dataDir, "--port", "0", "--config", configFile];
  const child = spawn("bash", ["-c", `ulimit -n ${nofile}; exec "$@"`, "bash", ...serve], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const check = (): void => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on("data", check);
    child.once("exit", (code) => reject(new Error(`gateway exited with ${code} before listening:\n${output}`)));
  });
  return {
    url,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]) * 1024;
}

async function postJson(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

interface ReadRecord {
  readonly offset: number;
  readonly fields: Record<string, unknown>;
}

/** Every record of a partition, projected to `fields`. */
async function readAll(url: string, stream: string, partition: number, fields: string): Promise<ReadRecord[]> {
  const out: ReadRecord[] = [];
  let offset = 0;
  for (;;) {
    const res = await fetch(`${url}/v1/streams/${encodeURIComponent(stream)}/partitions/${partition}/records?offset=${offset}&fields=${fields}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { records: ReadRecord[]; next_offset: number };
    if (body.records.length === 0) return out;
    out.push(...body.records);
    offset = body.next_offset;
  }
}

test("24 concurrent 63 MB publishes keep the gateway under 1 GiB RSS; the excess gets 503 with Retry-After, never 500; every ack is readable", async () => {
  const gw = await startGateway();
  dirs.push(gw.dataDir);
  try {
    const partitions = 8;
    expect((await postJson(`${gw.url}/v1/streams`, { name: "big", partitions })).status).toBe(201);
    // 45 records of 1 MiB each, base64 in JSON: a body of about 63 MB (under the 64 MiB request limit).
    const payload = Buffer.alloc(MiB, 7).toString("base64");
    const bodyFor = (request: number): string =>
      JSON.stringify({ records: Array.from({ length: 45 }, (_, i) => ({ partition: i % partitions, fields: { r: request, i, data: { $base64: payload } } })) });
    const sizes = new Set<number>();

    let peakRss = rssBytes(gw.child.pid!);
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peakRss = Math.max(peakRss, rssBytes(gw.child.pid!));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();

    const statuses: number[] = [];
    const acked = new Set<string>();
    await Promise.all(Array.from({ length: 24 }, async (_, request) => {
      const body = bodyFor(request);
      sizes.add(body.length);
      // A client that honours Retry-After: refused requests come back until they are accepted.
      for (;;) {
        const res = await fetch(`${gw.url}/v1/streams/big/records`, { method: "POST", headers: { "content-type": "application/json" }, body });
        statuses.push(res.status);
        if (res.status === 503) {
          const answer = (await res.json()) as { error: { code: string } };
          expect(answer.error.code).toBe("UNAVAILABLE");
          const retryAfter = Number(res.headers.get("retry-after"));
          expect(retryAfter).toBeGreaterThan(0);
          await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
          continue;
        }
        expect(res.status).toBe(200);
        const answer = (await res.json()) as { records: Array<{ partition: number; offset: number }> };
        answer.records.forEach((_, i) => acked.add(`${request}/${i}`));
        return;
      }
    }));
    sampling = false;
    await sampler;

    for (const size of sizes) expect(size).toBeGreaterThan(62 * 1_000_000);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    expect(statuses.some((s) => s === 503)).toBe(true); // the cap was reached
    expect(peakRss).toBeLessThan(1024 * MiB);
    expect(acked.size).toBe(24 * 45);

    const read = new Set<string>();
    for (let p = 0; p < partitions; p++) {
      for (const r of await readAll(gw.url, "big", p, "r,i")) read.add(`${String(r.fields.r)}/${String(r.fields.i)}`);
    }
    expect(read).toEqual(acked);
  } finally {
    await gw.stop();
  }
});

test("30 streams of 1,024 partitions under ulimit -n 1024: created, published, restarted, all listed and readable; failed creates leave nothing", async () => {
  const dataDir = tempDir();
  dirs.push(dataDir);
  const streams = 30;
  const perStream = 1024;
  const configFile = join(dataDir, "..", `${dataDir.split("/").pop()}-config.json`);
  // Room for the 30 streams and one of 4 partitions.
  writeFileSync(configFile, JSON.stringify({ limits: { maxGatewayPartitions: streams * perStream + 4 } }));
  dirs.push(configFile);
  const names = Array.from({ length: streams }, (_, s) => `fd/s${String(s).padStart(2, "0")}`);
  /** Three distinct partitions of stream s. */
  const sample = (s: number): number[] => [0, 1 + ((s * 37) % (perStream - 2)), perStream - 1];

  let gw = await serveUnderUlimit(dataDir, configFile, 1024);
  try {
    // Partitions whose directory cannot be made (a file stands where it would go): the create
    // fails and leaves no row, so the gateway still lists nothing of it and still starts.
    mkdirSync(join(dataDir, "log"), { recursive: true });
    writeFileSync(join(dataDir, "log", encodeURIComponent("fd/blocked")), "not a directory");
    const blocked = await postJson(`${gw.url}/v1/streams`, { name: "fd/blocked", partitions: 4 });
    expect(blocked.status).toBeGreaterThanOrEqual(400);
    expect((await fetch(`${gw.url}/v1/streams/${encodeURIComponent("fd/blocked")}`)).status).toBe(404);

    for (const name of names) {
      const res = await postJson(`${gw.url}/v1/streams`, { name, partitions: perStream });
      expect(res.status).toBe(201);
    }
    // Past the gateway's maximum: 400 before anything is stored.
    const over = await postJson(`${gw.url}/v1/streams`, { name: "fd/over", partitions: 5 });
    expect(over.status).toBe(400);
    expect(((await over.json()) as { error: { code: string; message: string } }).error.message).toContain("maxGatewayPartitions");

    for (const [s, name] of names.entries()) {
      const records = sample(s).map((partition) => ({ partition, fields: { s, partition } }));
      const res = await postJson(`${gw.url}/v1/streams/${encodeURIComponent(name)}/records`, { records });
      expect(res.status).toBe(200);
    }
  } finally {
    await gw.stop();
  }

  rmSync(join(dataDir, "log", encodeURIComponent("fd/blocked")));
  gw = await serveUnderUlimit(dataDir, configFile, 1024);
  try {
    const listed = (await (await fetch(`${gw.url}/v1/streams`)).json()) as { streams: Array<{ name: string; partitions: unknown[] }> };
    expect(listed.streams.map((s) => s.name)).toEqual(names);
    expect(listed.streams.every((s) => s.partitions.length === perStream)).toBe(true);
    for (const [s, name] of names.entries()) {
      for (const partition of sample(s)) {
        const records = await readAll(gw.url, name, partition, "s,partition");
        expect(records.map((r) => r.fields)).toEqual([{ s, partition }]);
      }
    }
    // The failed create left nothing behind: its name is free, and its 4 partitions were not counted.
    expect((await postJson(`${gw.url}/v1/streams`, { name: "fd/blocked", partitions: 4 })).status).toBe(201);
    expect((await postJson(`${gw.url}/v1/streams`, { name: "fd/over", partitions: 1 })).status).toBe(400);
  } finally {
    await gw.stop();
  }
});

test("WAL files past storage.maxOpenWalFiles are closed while idle and reopened transparently: appends, reads, rolls and recovery keep every record", async () => {
  const fx = await makeFixture();
  try {
    const partitions = 64;
    const limits = { maxOpenWalFiles: 8, segmentBytes: 16 * 1024, maxBatchBytes: 16 * 1024, maxPendingBytes: 16 * 1024 };
    await fx.createStream("budget", partitions);
    let store = await fx.open(limits);
    expect(store.walDescriptors().open).toBeLessThanOrEqual(8);
    // Three rounds over every partition at once; each append may need a descriptor another
    // partition holds, and the small segments roll (seal, rename, new WAL) on the way.
    for (let round = 0; round < 3; round++) {
      await Promise.all(Array.from({ length: partitions }, (_, p) =>
        store.partition("budget", p).append(records(round * 100, 100, 100), { firstTimestamp: 1000, maxTimestamp: 1000, producer: null })));
    }
    // The budget is soft: a descriptor opened while every other was busy is closed as operations
    // finish, and that close may still be running when the appends have returned.
    const settled = Date.now() + 10_000;
    while (store.walDescriptors().open > 8 && Date.now() < settled) await new Promise((r) => setTimeout(r, 10));
    const descriptors = store.walDescriptors();
    expect(descriptors.open).toBeLessThanOrEqual(8);
    expect(descriptors.reopens).toBeGreaterThan(0);
    const readAllOf = async (s: typeof store, p: number): Promise<number[]> =>
      (await s.partition("budget", p).read(0, { maxRecords: 1000, maxBytes: 1 << 20 })).map((r) => Number(r.fields?.i));
    const expected = Array.from({ length: 300 }, (_, i) => i);
    for (let p = 0; p < partitions; p++) expect(await readAllOf(store, p)).toEqual(expected);
    await store.close();

    store = await fx.open(limits);
    for (let p = 0; p < partitions; p++) {
      expect(store.partition("budget", p).endOffset).toBe(300);
      expect(await readAllOf(store, p)).toEqual(expected);
    }
    expect(store.walDescriptors().open).toBeLessThanOrEqual(8);
    expect(fx.errors).toEqual([]);
  } finally {
    await fx.cleanup();
  }
});

test("chunked bodies are counted as they stream in: past the cap 503 UNAVAILABLE with Retry-After, never 500; within it they are served", async () => {
  const cfgDir = tempDir();
  dirs.push(cfgDir);
  const configFile = join(cfgDir, "config.json");
  writeFileSync(configFile, JSON.stringify({ limits: { maxRequestBytes: 1 * MiB, maxRecordBytes: 1 * MiB, maxRequestBytesInFlight: 1 * MiB } }));
  const gw = await startGateway({ args: ["--config", configFile] });
  dirs.push(gw.dataDir);
  try {
    expect((await postJson(`${gw.url}/v1/streams`, { name: "chunked" })).status).toBe(201);
    const body = new TextEncoder().encode(JSON.stringify({ records: [{ fields: { pad: "x".repeat(600 * 1024) } }] }));
    const bodyFile = join(cfgDir, "body.json");
    writeFileSync(bodyFile, body);
    /** curl sends the body chunked (no Content-Length), at `rate` so that two overlap; resolves with the status, headers and body. */
    const send = (rate: string): Promise<{ status: number; headers: string; body: string }> =>
      new Promise((resolve, reject) => {
        const args = ["-sS", "-i", "-X", "POST", "-H", "content-type: application/json", "-H", "transfer-encoding: chunked", "--limit-rate", rate, "--data-binary", `@${bodyFile}`, `${gw.url}/v1/streams/chunked/records`];
        const curl = spawn("curl", args, { stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        curl.stdout!.on("data", (d: Buffer) => (out += d.toString()));
        curl.stderr!.on("data", (d: Buffer) => (out += d.toString()));
        curl.once("exit", (code) => {
          const head = /^HTTP\/[\d.]+ (\d+)/.exec(out);
          if (!head) return reject(new Error(`curl exited with ${code}: ${out}`));
          const split = out.indexOf("\r\n\r\n");
          resolve({ status: Number(head[1]), headers: out.slice(0, split).toLowerCase(), body: out.slice(split + 4) });
        });
      });
    // Alone, a chunked body is served.
    expect((await send("100M")).status).toBe(200);
    // Two at once, each streaming 600 KiB over about 3 s: together they pass the 1 MiB cap while
    // both are in flight, so one is refused.
    const answers = await Promise.all([send("200K"), send("200K")]);
    const statuses = answers.map((r) => r.status);
    expect(statuses.every((status) => status === 200 || status === 503)).toBe(true);
    expect(statuses).toContain(503);
    const refused = answers.find((r) => r.status === 503)!;
    expect(refused.headers).toContain("retry-after: 1");
    expect((JSON.parse(refused.body) as { error: { code: string } }).error.code).toBe("UNAVAILABLE");
  } finally {
    await gw.stop();
  }
});

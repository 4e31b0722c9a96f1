// Native UCX path vs HTTP, side by side in one run, and ucx_perftest at the same message sizes.
//   bun bench/native.ts                 (a 1 GiB artefact, 256 one-MiB records)
//   bun bench/native.ts --size 128      (smoke run: a 128 MiB artefact, 128 records)
//   UCX_TLS=tcp bun bench/native.ts     (TCP only; default: UCX's choice, shared memory here)
// Starts `strata serve --ucx-port 0` (child process, temp data dir) and, for the small-answer
// table, two more with ucx.inlineMaxBytes at 4 MiB (every answer inline) and 0 (every answer a
// one-sided get). Measures, with the client in this process:
//   - the artefact: a full `pull` (cold client cache, warm gateway: one pull first) over HTTP and
//     over UCX, alternating, best of two each (cache + output on disk, every chunk BLAKE3-verified); the same chunks fetched and
//     verified without disk; and fetched only (no verify, the transport alone), 4 requests of
//     16 MiB in flight;
//   - 1 MiB-record segment reads: one reader, 16 MiB ranges of the committed segments, every
//     batch CRC32C-verified, UCX vs HTTP Range;
//   - small segment ranges (4 KiB to 4 MiB): inline answers vs region + get, per read;
//   - ucx_perftest tag_bw and ucp_get at 16 MiB between two local processes.
// Prints markdown tables with the ratios, runtime versions, the UCX version and os.loadavg().
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { encode } from "@msgpack/msgpack";
import { decodeManifest } from "../core/artefacts/manifest.ts";
import { mapLimit } from "../core/util/concurrency.ts";
import { pullArtefact, pushArtefact } from "../edge/artefacts/index.ts";
import { getChunks } from "../edge/artefacts/artefact-api.ts";
import { GatewayHttp } from "../edge/artefacts/gateway-http.ts";
import { requestRuns } from "../edge/transports/ucx-chunk-source.ts";
import { closeUcxWorker, openUcxSession } from "../edge/transports/ucx-link.ts";
import { ucxPullSource } from "../edge/transports/ucx-pull.ts";
import { closeSegmentWorker, UcxSegmentReader, verifiedBatches } from "../gateway/client/ucx-segments.ts";
import { decodeFooter } from "../gateway/log/segment-format.ts";
import { loadUcx } from "../native/ucx.ts";
import { ROOT, waitForLine } from "./log/processes.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const REQUEST_BYTES = 16 * MiB;
const IN_FLIGHT = 4;
const SMALL_SIZES = [4 * KiB, 64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB];
const SMALL_READS = 200;
/** Rounds of each HTTP/UCX comparison, alternating; the best of each is reported. */
const ROUNDS = 2;

const program = new Command().option("--size <MiB>", "artefact size in MiB (also the number of 1 MiB records, at most 256)", "1024").parse();
const SIZE_MIB = Number(program.opts<{ size: string }>().size);
if (!Number.isSafeInteger(SIZE_MIB) || SIZE_MIB < 16) throw new Error("--size is a whole number of MiB, at least 16");
const RECORDS = Math.min(256, SIZE_MIB);

const load = loadUcx();
if (!load.available) {
  console.log(`bench/native.ts: UCX is not available here (${load.reason}); nothing to measure.`);
  process.exit(0);
}

interface Gateway {
  readonly url: string;
  readonly ucx: string;
  readonly child: ChildProcess;
  readonly dir: string;
}

async function startGateway(config: object): Promise<Gateway> {
  const dir = mkdtempSync(join(tmpdir(), "strata-bench-native-"));
  writeFileSync(join(dir, "config.json"), JSON.stringify(config));
  const child = spawn(process.execPath, [join(ROOT, "cli/main.ts"), "serve", "--data", join(dir, "data"), "--port", "0", "--ucx-port", "0", "--config", join(dir, "config.json")], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log = { text: "" };
  const keep = (d: Buffer): void => void (log.text += d.toString());
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const ucx = await waitForLine(child, /UCX listening on (ucx:\/\/\S+)/, "strata gateway (UCX)", 30_000, log);
  const url = /listening on (http:\/\/\S+)/.exec(log.text)![1]!;
  return { url, ucx, child, dir };
}

async function stop(g: Gateway): Promise<void> {
  const exited = new Promise<void>((resolve) => g.child.once("exit", () => resolve()));
  g.child.kill("SIGTERM");
  await exited;
  rmSync(g.dir, { recursive: true, force: true });
}

async function timed<T>(run: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const started = performance.now();
  const value = await run();
  return { seconds: (performance.now() - started) / 1000, value };
}

const gbps = (bytes: number, seconds: number): string => (bytes / seconds / 1e9).toFixed(2);
const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;

/** ucx_perftest between two local processes; GB/s (10^9 bytes) of its overall bandwidth. */
async function perftest(test: "tag_bw" | "ucp_get", size: number, iterations: number): Promise<number | undefined> {
  if (spawnSync("sh", ["-c", "command -v ucx_perftest"]).status !== 0) return undefined;
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const server = spawn("ucx_perftest", ["-p", String(port)], { stdio: ["ignore", "pipe", "pipe"] });
  const serverExit = new Promise<void>((resolve) => server.once("exit", () => resolve()));
  try {
    // The server has no ready line: the client retries until it listens.
    for (let attempt = 0; attempt < 50; attempt++) {
      const run = spawnSync("ucx_perftest", ["127.0.0.1", "-p", String(port), "-t", test, "-s", String(size), "-n", String(iterations)], { encoding: "utf8", timeout: 120_000 });
      const final = /Final:\s+(.*)/.exec(run.stdout ?? "");
      if (final) {
        const columns = final[1]!.trim().split(/\s+/).map(Number);
        return (columns[5]! * MiB) / 1e9; // overall bandwidth, MB = 2^20 bytes in ucx_perftest
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return undefined;
  } finally {
    server.kill("SIGKILL");
    await serverExit;
  }
}

const work = mkdtempSync(join(tmpdir(), "strata-bench-native-client-"));
const loadBefore = loadavg();
const main = await startGateway({});
const inline = await startGateway({ ucx: { inlineMaxBytes: 4 * MiB }, storage: { segmentMs: 20 } });
const regions = await startGateway({ ucx: { inlineMaxBytes: 0 }, storage: { segmentMs: 20 } });
try {
  // --- the artefact ---
  const file = join(work, "model.bin");
  writeFileSync(file, randomBytes(SIZE_MIB * MiB));
  const { artefact } = await pushArtefact({ gateway: main.url, file, stream: "bench/model" });
  rmSync(file);
  const http = new GatewayHttp(main.url, { requestTimeoutMs: 600_000, attempts: 1 });
  const manifest = decodeManifest(new Uint8Array(await (await http.request(`/v1/manifests/${artefact}`, { method: "GET" }, "manifest")).arrayBuffer()));
  const runs = requestRuns(manifest.chunks, REQUEST_BYTES);
  const bytes = manifest.size;
  const pull = async (via: "http" | "ucx"): Promise<number> => {
    const cacheDir = mkdtempSync(join(work, "cache-"));
    const out = join(work, `out-${via}.bin`);
    const ucx = via === "ucx" ? ucxPullSource({ via: main.ucx, gateway: main.url, onFallback: (m) => console.error(m) }) : undefined;
    try {
      const { seconds } = await timed(() => pullArtefact({ ...(ucx ? { chunkSource: ucx.source } : { gateway: main.url }), source: artefact, out, cacheDir, limits: { batchBytes: REQUEST_BYTES } }));
      return seconds;
    } finally {
      await ucx?.close();
      rmSync(cacheDir, { recursive: true, force: true });
      rmSync(out, { force: true });
    }
  };
  await pull("http"); // warms the gateway's pack cache
  // Alternating rounds, each after `sync`, so neither side pays for the other's dirty pages; best of each.
  const best = { http: Infinity, ucx: Infinity };
  for (let round = 0; round < ROUNDS; round++) {
    for (const via of ["http", "ucx"] as const) {
      spawnSync("sync");
      best[via] = Math.min(best[via], await pull(via));
    }
  }
  const pullHttp = best.http;
  const pullUcx = best.ucx;

  const session = await openUcxSession(main.ucx, { timeoutMs: 600_000 });
  const fetchVerified = async (via: "http" | "ucx"): Promise<number> => {
    const source = ucxPullSource({ via: main.ucx, gateway: main.url, onFallback: (m) => console.error(m) });
    try {
      const { seconds } = await timed(() =>
        mapLimit(runs, IN_FLIGHT, (run) => (via === "http" ? getChunks(http, run, () => undefined) : source.source.chunks(run, async () => undefined, new AbortController().signal))),
      );
      return seconds;
    } finally {
      await source.close();
    }
  };
  const fetchOnly = async (via: "http" | "ucx"): Promise<number> => {
    const { seconds } = await timed(() =>
      mapLimit(runs, IN_FLIGHT, async (run) => {
        const hashes = run.map((c) => c.hash);
        if (via === "ucx") return (await session.request({ t: "chunks", hashes })).length;
        const response = await http.request("/v1/chunks/get", { method: "POST", body: encode({ hashes }), contentType: "application/msgpack" }, "chunks");
        return (await response.arrayBuffer()).byteLength;
      }),
    );
    return seconds;
  };
  const onlyHttp = await fetchOnly("http");
  const onlyUcx = await fetchOnly("ucx");
  await session.close();
  // The pull source closes this process's UCX worker when done: after the session above.
  const verifiedHttp = await fetchVerified("http");
  const verifiedUcx = await fetchVerified("ucx");
  await closeUcxWorker();

  // --- 1 MiB-record segment reads ---
  const publish = async (g: Gateway, stream: string, records: number): Promise<void> => {
    const post = (path: string, body: Uint8Array | string, type: string) => fetch(`${g.url}/v1${path}`, { method: "POST", headers: { "content-type": type }, body: typeof body === "string" ? body : new Blob([body.slice()]) });
    await post("/streams", JSON.stringify({ name: stream, partitions: 1 }), "application/json");
    const value = randomBytes(MiB);
    for (let i = 0; i < records; i += 8) {
      const batch = Array.from({ length: Math.min(8, records - i) }, (_, j) => ({ fields: { n: i + j, data: value } }));
      const res = await post(`/streams/${encodeURIComponent(stream)}/records?acks=durable`, encode({ records: batch }), "application/msgpack");
      if (!res.ok) throw new Error(`publish: HTTP ${res.status} ${await res.text()}`);
    }
  };
  const segmentsOf = async (g: Gateway, stream: string) => {
    const listed = (await (await fetch(`${g.url}/v1/streams/${encodeURIComponent(stream)}/partitions/0/segments`)).json()) as { segments: { base: number; bytes: number }[] };
    return Promise.all(
      listed.segments.map(async (s) => {
        const tail = Math.min(s.bytes, 64 * KiB);
        const res = await fetch(`${g.url}/v1/streams/${encodeURIComponent(stream)}/partitions/0/segments/${s.base}`, { headers: { range: `bytes=${s.bytes - tail}-${s.bytes - 1}` } });
        return { base: s.base, dataLength: decodeFooter(new Uint8Array(await res.arrayBuffer()), s.bytes).dataLength };
      }),
    );
  };
  await publish(main, "bench/rows", RECORDS);
  const segments = await segmentsOf(main, "bench/rows");
  const readAll = async (via: "http" | "ucx"): Promise<{ seconds: number; bytes: number; batches: number }> => {
    const reader = new UcxSegmentReader({ gateway: main.url, via: main.ucx, onFallback: (m) => console.error(m) });
    let total = 0;
    let batches = 0;
    const { seconds } = await timed(async () => {
      for (const s of segments) {
        for (let start = 0; start < s.dataLength; ) {
          const range = { stream: "bench/rows", partition: 0, base: s.base, start, end: Math.min(s.dataLength, start + REQUEST_BYTES) };
          let next: number;
          if (via === "ucx") {
            const read = await reader.read(range);
            total += read.bytes.length;
            batches += read.batches.length;
            next = read.next;
          } else {
            const res = await fetch(`${main.url}/v1/streams/bench%2Frows/partitions/0/segments/${s.base}`, { headers: { range: `bytes=${range.start}-${range.end - 1}` } });
            const got = new Uint8Array(await res.arrayBuffer());
            const verified = verifiedBatches(got, start);
            total += got.length;
            batches += verified.batches.length;
            next = verified.next;
          }
          if (next <= start) throw new Error(`no whole batch in [${range.start}, ${range.end}): a record is larger than a range`);
          start = next;
        }
      }
    });
    await reader.close();
    return { seconds, bytes: total, batches };
  };
  await readAll("http"); // warms the gateway's segment cache
  let segHttp = await readAll("http");
  let segUcx = await readAll("ucx");
  for (let round = 1; round < ROUNDS; round++) {
    const h = await readAll("http");
    const u = await readAll("ucx");
    if (h.seconds < segHttp.seconds) segHttp = h;
    if (u.seconds < segUcx.seconds) segUcx = u;
  }
  await closeSegmentWorker();

  // --- small answers: inline vs region + get ---
  await publish(inline, "bench/small", 6);
  await publish(regions, "bench/small", 6);
  const small: { size: number; inlineUs: number; getUs: number }[] = [];
  for (const size of SMALL_SIZES) {
    const perRead = async (g: Gateway): Promise<number> => {
      const [s] = await segmentsOf(g, "bench/small");
      const reader = new UcxSegmentReader({ gateway: g.url, via: g.ucx });
      const range = { stream: "bench/small", partition: 0, base: s!.base, start: 0, end: Math.min(size, s!.dataLength) };
      for (let i = 0; i < 20; i++) await reader.read(range);
      const { seconds } = await timed(async () => {
        for (let i = 0; i < SMALL_READS; i++) await reader.read(range);
      });
      await reader.close();
      return (seconds / SMALL_READS) * 1e6;
    };
    small.push({ size, inlineUs: await perRead(inline), getUs: await perRead(regions) });
  }
  await closeSegmentWorker();

  // --- ucx_perftest at the same sizes ---
  const iterations = Math.max(50, Math.round((SIZE_MIB * MiB) / REQUEST_BYTES));
  const tagBw = await perftest("tag_bw", REQUEST_BYTES, iterations);
  const ucpGet = await perftest("ucp_get", REQUEST_BYTES, iterations);
  const loadAfter = loadavg();

  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } };
  console.log(`## Native UCX path vs HTTP (${SIZE_MIB} MiB artefact, ${RECORDS} one-MiB records)\n`);
  console.log(
    `Machine: ${cpus().length} cores, ${cpus()[0]?.model ?? "unknown CPU"}; ${g.Bun ? `Bun ${g.Bun.version}` : `Node ${process.version}`}; libucp ${load.ucx.version}; UCX_TLS ${process.env.UCX_TLS ?? "(UCX's choice)"}; ` +
      `load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")} before, ${loadAfter.map((l) => l.toFixed(2)).join(" ")} after.\n`,
  );
  console.log("| what | HTTP GB/s | UCX GB/s | UCX / HTTP |");
  console.log("| --- | ---: | ---: | ---: |");
  console.log(`| artefact pull (cold client cache, warm gateway; disk + BLAKE3) | ${gbps(bytes, pullHttp)} | ${gbps(bytes, pullUcx)} | ${ratio(pullHttp, pullUcx)} |`);
  console.log(`| chunks fetched + BLAKE3-verified, ${IN_FLIGHT} x 16 MiB in flight | ${gbps(bytes, verifiedHttp)} | ${gbps(bytes, verifiedUcx)} | ${ratio(verifiedHttp, verifiedUcx)} |`);
  console.log(`| chunks fetched only (transport), ${IN_FLIGHT} x 16 MiB in flight | ${gbps(bytes, onlyHttp)} | ${gbps(bytes, onlyUcx)} | ${ratio(onlyHttp, onlyUcx)} |`);
  console.log(`| segment reads, 1 MiB records, 16 MiB ranges, one reader, CRC32C-verified (${segUcx.batches} batches) | ${gbps(segHttp.bytes, segHttp.seconds)} | ${gbps(segUcx.bytes, segUcx.seconds)} | ${ratio(segHttp.seconds, segUcx.seconds)} |`);
  console.log("");
  console.log("| ucx_perftest, 16 MiB messages | GB/s | chunks fetched only over UCX / it | segment reads over UCX / it |");
  console.log("| --- | ---: | ---: | ---: |");
  for (const [name, value] of [["tag_bw", tagBw], ["ucp_get", ucpGet]] as const) {
    if (value === undefined) console.log(`| ${name} | (ucx_perftest not installed) | | |`);
    else console.log(`| ${name} | ${value.toFixed(2)} | ${(bytes / onlyUcx / 1e9 / value).toFixed(2)}x | ${(segUcx.bytes / segUcx.seconds / 1e9 / value).toFixed(2)}x |`);
  }
  console.log("");
  console.log("| segment range | inline answer µs/read | region + get µs/read | get / inline |");
  console.log("| ---: | ---: | ---: | ---: |");
  for (const s of small) console.log(`| ${s.size >= MiB ? `${s.size / MiB} MiB` : `${s.size / KiB} KiB`} | ${s.inlineUs.toFixed(0)} | ${s.getUs.toFixed(0)} | ${(s.getUs / s.inlineUs).toFixed(2)} |`);
} finally {
  await Promise.all([stop(main), stop(inline), stop(regions)]);
  rmSync(work, { recursive: true, force: true });
}

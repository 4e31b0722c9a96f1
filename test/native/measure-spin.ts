// Measures the spin-before-arm (SPIN_NS in native/ucx-worker.ts) between two processes: 1 KiB
// request/answer round trips and sequential 4 MiB gets, with both sides spinning 0, 50 us, 200 us
// and 1 ms, over shared memory and over tcp; the median of interleaved runs. Not a test (timings never decide pass/fail):
// `bun test/native/measure-spin.ts [transports...]`.
import { loadavg } from "node:os";
import { loadUcx } from "../../native/ucx.ts";
import { startServerPeer } from "./ucx-peer-process.ts";

const SPINS = [0, 50_000, 200_000, 1_000_000];
const ROUND_TRIPS = 2000;
const GET_BYTES = 4 * 1024 * 1024;
const GETS = 100;
const load = loadUcx();
if (!load.available) throw new Error(load.reason);
const ucx = load.ucx;

async function measure(transports: string, spinNs: number): Promise<{ roundTripUs: number; getGBps: number; cpu: number }> {
  const server = await startServerPeer("bun", transports, spinNs);
  const worker = ucx.createWorker({ transports, spinNs });
  try {
    const ep = await worker.connect("127.0.0.1", server.port);
    const local = worker.allocate(GET_BYTES);
    const request = new Uint8Array(1024).fill(1);
    const echo = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        await ep.send(request);
        await ep.receive();
      }
    };
    const gets = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) await ep.get(local, 0, GET_BYTES, server.address, server.rkey);
    };
    await echo(100); // warm-up: lanes, page faults, rkey mapping
    await gets(5);
    const cpuStart = process.cpuUsage();
    const wallStart = performance.now();
    await echo(ROUND_TRIPS);
    const echoMs = performance.now() - wallStart;
    const cpu = process.cpuUsage(cpuStart);
    const getStart = performance.now();
    await gets(GETS);
    const getMs = performance.now() - getStart;
    await ep.close();
    return { roundTripUs: (echoMs * 1000) / ROUND_TRIPS, getGBps: (GETS * GET_BYTES) / (getMs / 1000) / 1e9, cpu: (cpu.user + cpu.system) / 1000 / echoMs };
  } finally {
    await worker.close();
    await server.kill();
  }
}

/** Each configuration runs ROUNDS times, interleaved with the others (a loaded machine drifts), and the median is shown. */
const ROUNDS = 3;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const variants = process.argv.slice(2);
console.log(`UCX ${ucx.version}, ${navigator.userAgent}, load ${loadavg().map((l) => l.toFixed(2)).join(" ")}; median of ${ROUNDS} interleaved runs`);
console.log("| transports | spin | 1 KiB round trip | client CPU during round trips | 4 MiB get (1 in flight) |");
console.log("|---|---|---|---|---|");
for (const transports of variants.length > 0 ? variants : ["posix,sysv,cma,tcp", "tcp"]) {
  const runs = new Map<number, { roundTripUs: number; getGBps: number; cpu: number }[]>(SPINS.map((spin) => [spin, []]));
  for (let round = 0; round < ROUNDS; round++) for (const spin of SPINS) runs.get(spin)?.push(await measure(transports, spin));
  for (const [spin, ms] of runs) {
    const rt = median(ms.map((m) => m.roundTripUs));
    const cpu = median(ms.map((m) => m.cpu));
    const get = median(ms.map((m) => m.getGBps));
    console.log(`| ${transports} | ${spin / 1000} us | ${rt.toFixed(1)} us | ${(cpu * 100).toFixed(0)}% | ${get.toFixed(2)} GB/s |`);
  }
}
console.log(`load after: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);

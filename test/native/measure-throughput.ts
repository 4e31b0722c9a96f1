// Measures 4 MiB one-sided get and stream-message throughput from JavaScript between two
// processes, next to ucx_perftest's ucp_get and tag_bw at the same size, in one run (over tcp
// alone there are no one-sided gets: getsVia "none", their columns say n/a). Not a test
// (timings never decide pass/fail): `bun test/native/measure-throughput.ts [transports...]`.
import { spawn, spawnSync } from "node:child_process";
import { loadavg } from "node:os";
import { loadUcx } from "../../native/ucx.ts";
import { startServerPeer } from "./ucx-peer-process.ts";

const SIZE = 4 * 1024 * 1024;
const ROUNDS = 200;
const load = loadUcx();
if (!load.available) throw new Error(load.reason);
const ucx = load.ucx;

async function fromJs(transports: string): Promise<{ get: number; get4: number; echo: number; via: string }> {
  const server = await startServerPeer("bun", transports);
  const worker = ucx.createWorker({ transports });
  try {
    const ep = await worker.connect("127.0.0.1", server.port);
    const local = worker.allocate(SIZE * 4);
    const gbps = async (bytes: number, run: () => Promise<void>): Promise<number> => {
      await run(); // warm-up: connection lanes, rkey mappings, page faults
      const start = performance.now();
      await run();
      return bytes / ((performance.now() - start) / 1000) / 1e9;
    };
    const gets = ep.getsVia !== "none";
    const get = !gets ? Number.NaN : await gbps(ROUNDS * SIZE, async () => {
      for (let i = 0; i < ROUNDS; i++) await ep.get(local, 0, SIZE, server.address, server.rkey);
    });
    const get4 = !gets ? Number.NaN : await gbps(ROUNDS * SIZE, async () => {
      for (let i = 0; i < ROUNDS; i += 4) await Promise.all([0, 1, 2, 3].map((k) => ep.get(local, k * SIZE, SIZE, server.address, server.rkey)));
    });
    const message = local.bytes.subarray(0, SIZE);
    // Echo: each 4 MiB message crosses twice; the figure counts one direction, 4 in flight.
    const echo = await gbps((ROUNDS / 2) * SIZE, async () => {
      for (let i = 0; i < ROUNDS / 2; i += 4) {
        await Promise.all([0, 1, 2, 3].map(() => ep.send(message)));
        for (let k = 0; k < 4; k++) await ep.receive();
      }
    });
    const via = ep.getsVia ?? "unknown";
    await ep.close();
    return { get, get4, echo, via };
  } finally {
    await worker.close();
    await server.kill();
  }
}

let nextPort = 13337 + Math.floor(Math.random() * 1000);
/** ucx_perftest's bandwidth in GB/s (its "MB/s average" column is MiB/s). */
async function perftest(test: string, transports: string): Promise<number> {
  const port = String(nextPort++);
  const env = { ...process.env, UCX_TLS: transports };
  const args = ["-t", test, "-s", String(SIZE), "-n", "1000", "-p", port];
  const server = spawn("ucx_perftest", args, { env, stdio: "ignore" });
  try {
    for (let attempt = 0; attempt < 50; attempt++) {
      const client = spawnSync("ucx_perftest", ["127.0.0.1", ...args], { env, encoding: "utf8", timeout: 60_000 });
      const final = client.stdout.split("\n").find((line) => /^Final:/.test(line.trim()));
      if (final !== undefined) {
        const columns = final.trim().split(/\s+/);
        const mibPerSecond = Number(columns[columns.length - 3]);
        return (mibPerSecond * 1024 * 1024) / 1e9;
      }
      await new Promise((r) => setTimeout(r, 100)); // the server is not listening yet: retry
    }
    return Number.NaN;
  } finally {
    server.kill("SIGKILL");
  }
}

const variants = process.argv.slice(2);
console.log(`UCX ${ucx.version}, ${navigator.userAgent}, load ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
console.log("| transports | gets via | JS get (1 in flight) | JS get (4 in flight) | JS stream echo (one way) | ucx_perftest ucp_get | ucx_perftest tag_bw | JS get / ucp_get | JS stream / tag_bw |");
console.log("|---|---|---|---|---|---|---|---|---|");
for (const transports of variants.length > 0 ? variants : ["posix,sysv,cma,tcp", "tcp"]) {
  const js = await fromJs(transports);
  const get = await perftest("ucp_get", transports);
  const tag = await perftest("tag_bw", transports);
  const f = (x: number, unit: string): string => (Number.isNaN(x) ? "n/a" : `${x.toFixed(2)}${unit}`);
  const jsGet = Math.max(js.get, js.get4);
  console.log(`| ${transports} | ${js.via} | ${f(js.get, " GB/s")} | ${f(js.get4, " GB/s")} | ${f(js.echo, " GB/s")} | ${f(get, " GB/s")} | ${f(tag, " GB/s")} | ${f(jsGet / get, "x")} | ${f(js.echo / tag, "x")} |`);
}
console.log(`load after: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);

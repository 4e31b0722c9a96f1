// One download measurement, run under the runtime being measured (Bun or Deno): fetch every
// chunk listed in HASHES_FILE (32-byte hashes back to back) from a gateway over QUIC bulk
// streams or over HTTP/1.1 POST /v1/chunks/get, `parallel` requests at a time of `batch`
// hashes each (over QUIC spread round-robin over CONNECTIONS connections). Prints one JSON line
// {transport, bytes, ms, mb_s, cpu_ms} (cpu_ms: this process's CPU time, user + system, during the transfer).
// usage: download.ts quic|http HASHES_FILE BATCH PARALLEL (QUIC_PORT CA_FILE [CONNECTIONS] | HTTP_URL)
import { encode } from "@msgpack/msgpack";
import { readFileSync } from "node:fs";
import { QuicClient } from "../../edge/transports/quic-client.ts";

const [transport, hashesFile, batchArg, parallelArg, target, caFile, connectionsArg] = process.argv.slice(2);
const all = new Uint8Array(readFileSync(hashesFile!));
const hashes: Uint8Array[] = [];
for (let at = 0; at < all.length; at += 32) hashes.push(all.subarray(at, at + 32));
const batch = Number(batchArg);
const parallel = Number(parallelArg);
const batches: Uint8Array[][] = [];
for (let i = 0; i < hashes.length; i += batch) batches.push(hashes.slice(i, i + batch));

async function pool(run: (hashes: Uint8Array[]) => Promise<number>): Promise<number> {
  let next = 0;
  let bytes = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < batches.length) {
        const n = await run(batches[next++]!);
        bytes += n;
      }
    }),
  );
  return bytes;
}

let bytes: number;
let ms: number;
const cpuBefore = process.cpuUsage();
if (transport === "quic") {
  const ca = readFileSync(caFile!, "utf8");
  const clients = await Promise.all(Array.from({ length: Number(connectionsArg ?? "1") }, () => QuicClient.connect({ host: "127.0.0.1", port: Number(target), ca })));
  let turn = 0;
  const t0 = performance.now();
  bytes = await pool(async (list) => {
    const client = clients[turn++ % clients.length]!;
    let n = 0;
    for await (const chunk of client.getChunks(list)) n += chunk.data.length;
    return n;
  });
  ms = performance.now() - t0;
  await Promise.all(clients.map((client) => client.close()));
} else {
  const t0 = performance.now();
  bytes = await pool(async (list) => {
    const response = await fetch(`${target}/v1/chunks/get`, { method: "POST", headers: { "content-type": "application/msgpack" }, body: encode({ hashes: list }) });
    if (response.status !== 200) throw new Error(`chunks/get: ${response.status} ${await response.text()}`);
    let n = 0;
    const reader = response.body!.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      n += value.length;
    }
    // Count chunk bytes only (each frame has a 36-byte header), as the QUIC side does.
    return n - list.length * 36;
  });
  ms = performance.now() - t0;
}
const cpu = process.cpuUsage(cpuBefore);
console.log(JSON.stringify({ transport, bytes, ms: Math.round(ms), mb_s: Math.round((bytes / 1e6 / (ms / 1000)) * 10) / 10, cpu_ms: Math.round((cpu.user + cpu.system) / 1000) }));
process.exit(0);

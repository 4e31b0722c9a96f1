// Runs under the runtime executing this file (Deno in bulk-streams.test.ts): WORKERS bulk
// downloads at a time over one connection (as many as the gateway allows), ROUNDS each back to
// back, every chunk checked against its hash. A new bulk stream opened the moment the last one
// ended must wait for the gateway's stream credit, not fail. Prints one JSON line.
// usage: bulk-streams-main.ts PORT CA_FILE HASHES_HEX(comma-separated) ROUNDS
import { readFileSync } from "node:fs";
import { blake3 } from "../../core/hashing/blake3.ts";
import { equalBytes } from "../../core/util/equal-bytes.ts";
import { hexToBytes } from "../../core/util/hex.ts";
import { QuicClient } from "../../edge/transports/quic-client.ts";

const [portArg, caFile, hashesArg, roundsArg] = process.argv.slice(2);
const hashes = hashesArg!.split(",").map(hexToBytes);
const client = await QuicClient.connect({ host: "127.0.0.1", port: Number(portArg), ca: readFileSync(caFile!, "utf8") });
const workers = client.session.maxBulkStreams;
let downloads = 0;
let bytes = 0;
const failures: string[] = [];
await Promise.all(
  Array.from({ length: workers }, async () => {
    for (let round = 0; round < Number(roundsArg); round++) {
      try {
        for await (const chunk of client.getChunks(hashes)) {
          if (!equalBytes(blake3(chunk.data), chunk.hash)) throw new Error("a chunk does not hash to its hash");
          bytes += chunk.data.length;
        }
        downloads++;
      } catch (e) {
        failures.push(String(e));
      }
    }
  }),
);
await client.close();
console.log(JSON.stringify({ workers, downloads, bytes, failures: failures.slice(0, 3) }));
process.exit(0);

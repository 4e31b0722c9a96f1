// The QUIC transport alone, without the gateway: a server that answers every stream with SIZE
// bytes (256 KiB writes) and a client that reads one such stream, in two processes of the
// runtime running this file, through the same adapters the gateway and client use.
//   raw-stream.ts server SIZE_BYTES CERT_FILE KEY_FILE   (prints "port N")
//   raw-stream.ts client PORT CA_FILE                     (prints {"bytes", "ms", "mb_s"})
import { readFileSync } from "node:fs";
import { DEFAULT_QUIC_LIMITS } from "../../gateway/quic/quic-limits.ts";
import { listenQuic } from "../../runtime/quic/listen.ts";
import { connectQuic } from "../../runtime/quic/connect.ts";

const WRITE_BYTES = 256 * 1024;
const [mode, a, b, c] = process.argv.slice(2);

if (mode === "server") {
  const size = Number(a);
  const buffer = new Uint8Array(WRITE_BYTES).fill(7);
  const listener = await listenQuic(
    { host: "127.0.0.1", port: 0, certPem: readFileSync(b!, "utf8"), keyPem: readFileSync(c!, "utf8"), limits: DEFAULT_QUIC_LIMITS },
    (connection) =>
      connection.onBidi((stream) => {
        void (async () => {
          for await (const _ of stream.chunks) void _;
          for (let sent = 0; sent < size; sent += WRITE_BYTES) await stream.write(buffer);
          await stream.end();
        })().catch((e: unknown) => console.error("raw server:", e));
      }),
  );
  console.log(`port ${listener.port}`);
} else {
  const connection = await connectQuic({ host: "127.0.0.1", port: Number(a), ca: readFileSync(b!, "utf8") });
  const started = performance.now();
  const stream = await connection.openBidi();
  await stream.write(Uint8Array.of(1));
  await stream.end();
  let bytes = 0;
  for await (const chunk of stream.chunks) bytes += chunk.length;
  const ms = performance.now() - started;
  await connection.close();
  console.log(JSON.stringify({ bytes, ms: Math.round(ms), mb_s: Math.round((bytes / 1e6 / (ms / 1000)) * 10) / 10 }));
  process.exit(0);
}

// The QUIC transport alone, without the gateway: a server that answers every stream with the
// number of bytes the client asks for (its request is that number in decimal; 256 KiB writes),
// and a client that reads SIZE bytes split over CONNECTIONS connections x STREAMS streams each,
// in two processes of the runtime running this file, through the adapters the gateway and client use.
//   raw-stream.ts server CERT_FILE KEY_FILE                                (prints "port N")
//   raw-stream.ts client PORT CA_FILE SIZE_BYTES [CONNECTIONS] [STREAMS]   (prints {"bytes", "ms", "mb_s"})
import { readFileSync } from "node:fs";
import { DEFAULT_QUIC_LIMITS } from "../../gateway/quic/quic-limits.ts";
import { listenQuic } from "../../runtime/quic/listen.ts";
import { connectQuic } from "../../runtime/quic/connect.ts";
import type { QuicConnection } from "../../core/quic/stream.ts";

const WRITE_BYTES = 256 * 1024;
const [mode, a, b, c, d, e] = process.argv.slice(2);

async function readStream(connection: QuicConnection, size: number): Promise<number> {
  const stream = await connection.openBidi();
  await stream.write(new TextEncoder().encode(String(size)));
  await stream.end();
  let bytes = 0;
  for await (const chunk of stream.chunks) bytes += chunk.length;
  return bytes;
}

if (mode === "server") {
  const buffer = new Uint8Array(WRITE_BYTES).fill(7);
  const listener = await listenQuic(
    { host: "127.0.0.1", port: 0, certPem: readFileSync(a!, "utf8"), keyPem: readFileSync(b!, "utf8"), limits: DEFAULT_QUIC_LIMITS },
    (connection) =>
      connection.onBidi((stream) => {
        void (async () => {
          let request = "";
          for await (const bytes of stream.chunks) request += new TextDecoder().decode(bytes);
          const size = Number(request);
          for (let sent = 0; sent < size; sent += WRITE_BYTES) await stream.write(sent + WRITE_BYTES <= size ? buffer : buffer.subarray(0, size - sent));
          await stream.end();
        })().catch((err: unknown) => console.error("raw server:", err));
      }),
  );
  console.log(`port ${listener.port}`);
} else {
  const size = Number(c);
  const connections = Number(d ?? "1");
  const streams = Number(e ?? "1");
  const each = Math.ceil(size / (connections * streams));
  const open = await Promise.all(Array.from({ length: connections }, () => connectQuic({ host: "127.0.0.1", port: Number(a), ca: readFileSync(b!, "utf8") })));
  const started = performance.now();
  const counts = await Promise.all(open.flatMap((connection) => Array.from({ length: streams }, () => readStream(connection, each))));
  const ms = performance.now() - started;
  await Promise.all(open.map((connection) => connection.close()));
  const bytes = counts.reduce((n, x) => n + x, 0);
  console.log(JSON.stringify({ bytes, ms: Math.round(ms), mb_s: Math.round((bytes / 1e6 / (ms / 1000)) * 10) / 10 }));
  process.exit(0);
}

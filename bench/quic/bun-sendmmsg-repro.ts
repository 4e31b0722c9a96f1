// Minimal reproduction, for Bun upstream, of node:quic sending one UDP datagram per sendmmsg(2)
// call (no batching, no GSO), which caps one QUIC connection at about one core's worth of
// syscalls. Standalone: no Strata code, only node:quic, node:crypto, node:child_process.
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
//     -keyout key.pem -out cert.pem
//   bun bench/quic/bun-sendmmsg-repro.ts cert.pem key.pem [SIZE_MIB=256]
// The parent is the sender (server); it forks the receiver (client), which opens one stream and
// reads SIZE_MIB. To count the sender's system calls:
//   strace -f -c -e trace=sendmmsg,sendmsg,sendto bun bench/quic/bun-sendmmsg-repro.ts cert.pem key.pem
// (the child is traced too: -f; the calls are the sender's, the receiver's are recvmmsg/recvmsg).
// Expected with batching: SIZE / (n x ~1.4 KB) calls for n datagrams per call; seen: one per datagram.
import { spawn } from "node:child_process";
import { createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";

interface Writer {
  readonly desiredSize: number | null;
  writeSync(chunk: Uint8Array): boolean;
  end(): Promise<number>;
  [key: symbol]: (() => Promise<unknown> | null) | undefined;
}
interface Stream extends AsyncIterable<Uint8Array[]> {
  readonly writer: Writer;
  highWaterMark: number;
}
interface Session {
  readonly opened: Promise<unknown>;
  onstream: ((stream: Stream) => void) | undefined;
  createBidirectionalStream(): Promise<Stream>;
  close(): Promise<void>;
}
interface QuicModule {
  listen(onsession: (s: Session) => void, options: Record<string, unknown>): Promise<{ readonly address: { port: number } | undefined; close(): Promise<void> }>;
  connect(address: string, options: Record<string, unknown>): Promise<Session>;
}

const specifier = "node:quic";
const quic = (await import(specifier)) as QuicModule;
const [certFile, keyFile, sizeArg, role, portArg] = process.argv.slice(2);
const size = Number(sizeArg ?? "256") * 1024 * 1024;
const DRAIN = Symbol.for("Stream.drainableProtocol");

if (role === "receiver") {
  const session = await quic.connect(`127.0.0.1:${portArg}`, { alpn: "repro", ca: [readFileSync(certFile!)], verifyPeer: "manual" });
  await session.opened;
  const started = performance.now();
  const stream = await session.createBidirectionalStream();
  stream.writer.writeSync(Uint8Array.of(1));
  await stream.writer.end();
  let bytes = 0;
  for await (const batch of stream) for (const chunk of batch) bytes += chunk.length;
  const ms = performance.now() - started;
  console.log(JSON.stringify({ bytes, ms: Math.round(ms), mb_s: Math.round(bytes / 1e3 / ms) }));
  process.exit(0);
} else {
  const payload = new Uint8Array(256 * 1024).fill(7);
  const endpoint = await quic.listen(
    (session) => {
      session.onstream = (stream) => {
        stream.highWaterMark = 1024 * 1024;
        void (async () => {
          for await (const _ of stream) void _;
          const writer = stream.writer;
          for (let sent = 0; sent < size; sent += payload.length) {
            while (!writer.writeSync(payload)) await (writer[DRAIN]?.() ?? new Promise((r) => setTimeout(r, 1)));
          }
          await writer.end();
        })();
      };
    },
    { alpn: "repro", sni: { "*": { keys: [createPrivateKey(readFileSync(keyFile!))], certs: [readFileSync(certFile!)] } }, endpoint: { address: "127.0.0.1:0" } },
  );
  const receiver = spawn(process.execPath, [process.argv[1]!, certFile!, keyFile!, String(size / 1024 / 1024), "receiver", String(endpoint.address!.port)], { stdio: ["ignore", "inherit", "inherit"] });
  await new Promise((resolve) => receiver.once("exit", resolve));
  process.exit(0);
}

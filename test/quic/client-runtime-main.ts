// Runs the QUIC client under whichever runtime executes this file (Deno in the interop test):
// publish with an idempotent retry, fetch, chunk put and get, then malformed frames on a raw
// connection. Prints one JSON line with what it saw.
// usage: client-runtime-main.ts PORT CA_FILE STREAM
import { readFileSync } from "node:fs";
import { blake3 } from "../../core/hashing/blake3.ts";
import { encodeFrame, frameHeader } from "../../core/quic/frames.ts";
import { FrameReader } from "../../core/quic/stream.ts";
import { QuicClient } from "../../edge/transports/quic-client.ts";
import { connectQuic } from "../../runtime/quic/connect.ts";

const [portArg, caFile, stream] = process.argv.slice(2);
const options = { host: "127.0.0.1", port: Number(portArg), ca: readFileSync(caFile!, "utf8") };
const client = await QuicClient.connect(options);
const producer = { id: 77, epoch: 0, seq: 0 };
const records = [{ fields: { runtime: "client", n: 1 } }, { fields: { runtime: "client", n: 2 } }];
const first = await client.publish(stream!, { records, producer });
const retry = await client.publish(stream!, { records, producer });
const page = await client.fetch({ stream: stream!, partition: first[0]!.partition, offset: 0 });
const data = new Uint8Array(200_000).map((_, i) => (i * 31) % 256);
const put = await client.putChunks([{ hash: blake3(data), data }]);
let got = 0;
for await (const chunk of client.getChunks([blake3(data)])) got += chunk.data.length;

// A malformed frame after hello on a raw connection: the answer is an error frame.
const raw = await connectQuic(options);
const control = await raw.openBidi();
await control.write(encodeFrame({ t: "hello", versions: [1] }));
await control.write(frameHeader(2));
await control.write(Uint8Array.of(0xc1, 0xc1));
const reader = new FrameReader(control.chunks, 1 << 20);
const answers: unknown[] = [];
for (;;) {
  const frame = await reader.next();
  if (frame === null) break;
  answers.push(frame.t === "error" ? { t: frame.t, code: frame.code } : { t: frame.t });
}
await raw.close();
const after = await client.publish(stream!, { records: [{ fields: { after: true } }] });
await client.close();
console.log(JSON.stringify({ version: client.session.version, first, retry, fetched: page.records.map((r) => r.fields), put, got, answers, after }));
process.exit(0);

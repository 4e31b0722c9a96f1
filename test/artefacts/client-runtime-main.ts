// Run by client-runtimes.test.ts under Deno and Node: push a file, pull it back, print a summary.
//   <runtime> client-runtime-main.ts GATEWAY_URL DIR STREAM
import process from "node:process";
import { pullArtefact, pushArtefact } from "../../edge/artefacts/index.ts";

const [gateway, dir, stream] = process.argv.slice(2);
if (!gateway || !dir || !stream) throw new Error("usage: client-runtime-main.ts GATEWAY_URL DIR STREAM");
const pushed = await pushArtefact({ gateway, file: `${dir}/in.bin`, stream });
const pulled = await pullArtefact({ gateway, source: stream, out: `${dir}/out.bin`, cacheDir: `${dir}/cache` });
console.log(JSON.stringify({ artefact: pushed.artefact, pulled: pulled.artefact, pushedBytes: pushed.bytesTransferred, pulledBytes: pulled.bytesTransferred }));

// One group member for bench/groups.ts, as its own process (so it can be SIGKILLed): waits for
// "go" on stdin, then consumes with consumeGroup (records are read and dropped, commits as the
// library does) until SIGTERM, when it leaves the group.
//   bun bench/groups/member.ts GATEWAY GROUP STREAM SESSION_MS
import { createInterface } from "node:readline";
import { consumeGroup } from "../../gateway/client.ts";

const [gateway, group, stream, session] = process.argv.slice(2);
if (gateway === undefined || group === undefined || stream === undefined || session === undefined) throw new Error("usage: member.ts GATEWAY GROUP STREAM SESSION_MS");

const lines = createInterface({ input: process.stdin });
process.stdout.write("ready\n");
for await (const line of lines) if (line === "go") break;
const stop = new AbortController();
process.once("SIGTERM", () => stop.abort());
const consumer = consumeGroup({ gateway, group, streams: [stream], sessionTimeoutMs: Number(session), signal: stop.signal, waitMs: 1000 });
for await (const _batch of consumer) {
  // Dropped: the bench measures ownership, not processing.
}
process.exit(0);

// A group member as its own process, for tests that SIGKILL one: heartbeats, reads each owned
// partition from the group's committed offset, prints `stream partition offset` per record and
// commits after printing (at-least-once). Usage: bun member-process.ts URL GROUP MEMBER STREAM SESSION_MS [INSTANCE]
import { z } from "zod";
import { heartbeatResponseSchema } from "../../gateway/consumers/group-wire.ts";

const offsetsAnswer = z.object({ offsets: z.array(z.object({ partition: z.number(), offset: z.number() })) });
const pageAnswer = z.object({ records: z.array(z.object({ offset: z.number() })), next_offset: z.number() });

const [url, group, member, stream, session, instance] = process.argv.slice(2);
if (url === undefined || group === undefined || member === undefined || stream === undefined || session === undefined) {
  throw new Error("usage: member-process.ts URL GROUP MEMBER STREAM SESSION_MS [INSTANCE]");
}
const v1 = `${url}/v1`;

async function post(path: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${v1}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

let epoch: number | undefined;
for (;;) {
  const hb = await post(`/groups/${group}/heartbeat`, { member, streams: [stream], member_epoch: epoch, instance, session_timeout_ms: Number(session) });
  if (hb.status !== 200) {
    epoch = undefined; // fenced or forgotten: drop everything, rejoin
    continue;
  }
  const answer = heartbeatResponseSchema.parse(hb.body);
  epoch = answer.member_epoch;
  process.stdout.write(`epoch ${epoch} ${answer.assignment.map((p) => p.partition).join(",")}\n`);
  const offsets = offsetsAnswer.parse(await (await fetch(`${v1}/groups/${group}/offsets?stream=${stream}`)).json());
  let read = 0;
  for (const { partition } of answer.assignment) {
    const from = offsets.offsets.find((o) => o.partition === partition)?.offset ?? 0;
    const page = pageAnswer.parse(await (await fetch(`${v1}/streams/${stream}/partitions/${partition}/records?offset=${from}&max_records=50`)).json());
    if (page.records.length === 0) continue;
    read += page.records.length;
    process.stdout.write(page.records.map((r) => `record ${stream} ${partition} ${r.offset}\n`).join(""));
    await post(`/groups/${group}/offsets`, { stream, partition, offset: page.next_offset, member, member_epoch: epoch });
  }
  // Nothing to do: pace the heartbeats at a tenth of the interval rather than spin.
  if (read === 0) await new Promise((resolve) => setTimeout(resolve, Math.min(answer.heartbeat_interval_ms / 10, 100)));
}

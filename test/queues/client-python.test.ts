// strata.queues (Python, Debian's interpreter) against a real gateway process: claim, nack with
// an error, redelivery, ack, the work() loop over two priorities with a handler that raises
// (its error in the dead letter after max_deliveries), describe, and StrataError codes.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type GatewayProcess, removeDir, startGateway } from "../helpers/gateway.ts";
import { runPythonAsync } from "../helpers/python.ts";

let gw: GatewayProcess;

beforeAll(async () => {
  gw = await startGateway();
});
afterAll(async () => {
  await gw.stop();
  removeDir(gw.dataDir);
});

const script = `
import json, os, sys
import strata
from strata import queues

client = strata.Client(os.environ["GATEWAY"])
client.create_stream("py-q/high", 1)
client.create_stream("py-q/low", 1)
queues.configure(client, "pyq", max_deliveries=2, backoff={"initial_ms": 0, "max_ms": 0, "multiplier": 1, "jitter": "none"})
client.publish("py-q/low", [{"fields": {"n": 10}}, {"fields": {"n": 11, "fail": True}}, {"fields": {"n": 12}}], acks="durable")
client.publish("py-q/high", [{"fields": {"n": 0}, "key": b"k0"}, {"fields": {"n": 1}}, {"fields": {"n": 2}}], acks="durable")
out = {}

first = queues.claim(client, "pyq", ["py-q/high", "py-q/low"], max_records=1, visibility_ms=60000)
out["first"] = {k: first[0][k] for k in ("stream", "partition", "offset", "fields", "deliveries")}
out["first_key"] = first[0]["key"].decode()
out["first_nack"] = queues.nack(client, "pyq", [first[0]["receipt"]], error="not now")
again = queues.claim(client, "pyq", ["py-q/high", "py-q/low"], max_records=1, visibility_ms=60000, wait_ms=10000)
out["again"] = {k: again[0][k] for k in ("offset", "deliveries")}
out["again_ack"] = queues.ack(client, "pyq", [again[0]["receipt"], first[0]["receipt"]])

order = []
def handle(record):
    order.append([record["stream"], record["fields"]["n"]])
    if record["fields"].get("fail"):
        raise ValueError("cannot do %d" % record["fields"]["n"])

# 2 high, 3 low, and the failing one once more: 6 runs.
out["work"] = queues.work(client, "pyq", ["py-q/high", "py-q/low"], handle, visibility_ms=60000, limit=6)
out["order"] = order
out["totals"] = queues.describe(client, "pyq")["totals"]
try:
    queues.claim(client, "pyq", ["py-q/high"], filter="fields.n >")
except strata.StrataError as error:
    out["bad_filter"] = [error.code, error.status]
try:
    queues.ack(client, "pyq", [])
except strata.StrataError as error:
    out["no_receipts"] = error.code
print(json.dumps(out))
`;

test("strata.queues: claim, nack, ack, work() with priorities and a failing handler, describe, errors", async () => {
  const run = await runPythonAsync(["-c", script], { env: { GATEWAY: gw.url } });
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  const out = JSON.parse(run.stdout);
  expect(out.first).toEqual({ stream: "py-q/high", partition: 0, offset: 0, fields: { n: 0 }, deliveries: 1 });
  expect(out.first_key).toBe("k0");
  expect(out.first_nack).toEqual({ nacked: 1, dead_lettered: 0, stale: [] });
  expect(out.again).toEqual({ offset: 0, deliveries: 2 });
  expect(out.again_ack.acked).toBe(1);
  expect(out.again_ack.stale).toHaveLength(1);
  expect(out.work).toEqual({ acked: 4, nacked: 2, stale: 0 });
  expect(out.order.slice(0, 2)).toEqual([
    ["py-q/high", 1],
    ["py-q/high", 2],
  ]);
  expect(out.order.slice(2).filter(([, n]: [string, number]) => n === 11)).toHaveLength(2);
  expect(out.totals).toEqual({ in_flight: 0, pending: 0, redelivered: 2, dead_lettered: 1, acked: 5 });
  expect(out.bad_filter).toEqual(["BAD_FILTER", 400]);
  expect(out.no_receipts).toBe("BAD_REQUEST");

  const dlq = await fetch(`${gw.url}/v1/streams/${encodeURIComponent("py-q/low.dlq")}/partitions/0/records?offset=0`);
  const body = (await dlq.json()) as { records: { headers: Record<string, string>; fields: Record<string, unknown> }[] };
  expect(body.records).toHaveLength(1);
  expect(body.records[0]!.fields).toEqual({ n: 11, fail: true });
  expect(body.records[0]!.headers["strata-dlq-error"]).toBe("ValueError: cannot do 11");
  expect(body.records[0]!.headers["strata-dlq-deliveries"]).toBe("2");
}, 120_000);

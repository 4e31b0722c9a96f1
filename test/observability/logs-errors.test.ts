// A 5xx answer is logged at error level with its code and cause, once, beside its access line:
// a real `strata serve --log-format json` whose --data is an 8 MiB tmpfs that fills up answers
// publishes 507 INSUFFICIENT_STORAGE (the safe server error; test/trust/disk-full.test.ts). Needs
// root to mount; skipped with a message otherwise.
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { startGateway } from "../helpers/gateway.ts";
import { fillUp, mountSmallTmpfs } from "../helpers/small-tmpfs.ts";
import { accessRecords, collectLines, eventually, jsonRecordSchema } from "./logs-stderr.ts";

const tmpfs = mountSmallTmpfs("8m", "strata-logs-errors-");
afterAll(() => tmpfs.remove());

test("a 507 is logged once at error level with its code and cause, and its access line carries the code", async () => {
  if (!tmpfs.mounted) {
    console.warn(`skipped: ${tmpfs.skipReason}`);
    return;
  }
  const gateway = await startGateway({ dataDir: join(tmpfs.path, "data"), args: ["--log-format", "json"] });
  const lines = collectLines(gateway.child);
  try {
    const created = await fetch(`${gateway.url}/v1/streams`, { method: "POST", body: JSON.stringify({ name: "full" }) });
    expect(created.status).toBe(201);
    fillUp(tmpfs.path);
    const response = await fetch(`${gateway.url}/v1/streams/full/records`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ records: [{ fields: { pad: "p".repeat(32 * 1024) } }] }) });
    expect(response.status).toBe(507);
    await response.arrayBuffer();
    const access = await eventually(() => accessRecords(lines).find((r) => r.properties.status === 507), "the 507's access line");
    expect(access.properties).toMatchObject({ route: "/v1/streams/:name/records", code: "INSUFFICIENT_STORAGE" });
    const errors = lines.stderr().filter((l) => l.startsWith("{")).map((l) => jsonRecordSchema.parse(JSON.parse(l))).filter((r) => r.level === "ERROR" && r.logger === "strata.http");
    // The error record is written before the answer leaves, so it is in by the time the access line
    // is. (The WAL also logs the disk-full condition, once, on its own logger.)
    expect(errors.length).toBe(1);
    expect(errors[0]).toMatchObject({ logger: "strata.http", properties: { status: 507, code: "INSUFFICIENT_STORAGE", method: "POST", path: "/v1/streams/full/records" } });
    expect(errors[0]!.properties.error).toBeDefined();
  } finally {
    await gateway.stop();
  }
});

// Producer ids belong to a subject: the first authenticated publish with an id registers it to
// its subject (gateway-wide, persisted in the metadata database), and another subject can
// neither publish with it nor fence it, at any epoch. A real gateway (storage, metadata
// database) in this process, reopened on the same directory to show the registration persists;
// then over HTTP against a real `strata serve --auth` process with issued tokens.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { StrataError } from "../../core/errors.ts";
import { failure } from "../helpers/failure.ts";
import type { PublishRequest } from "../../core/log/publish-request.ts";
import { openGateway, type Gateway } from "../../gateway/gateway.ts";
import { removeDir, startGateway, tempDir } from "../helpers/gateway.ts";

const A = { subject: "edge-a" };
const B = { subject: "edge-b" };
const X = 2 ** 52 + 17;

let dataDir: string;
let gateway: Gateway;

beforeAll(async () => {
  dataDir = tempDir("strata-producer-owner-");
  gateway = await openGateway({ dataDir, artefacts: { gcIntervalMs: 0 } });
  await gateway.services.streams.create({ name: "owned/one", partitions: 3 });
  await gateway.services.streams.create({ name: "owned/two", partitions: 1 });
});

afterAll(async () => {
  await gateway?.close();
  removeDir(dataDir);
});

function request(value: string, producer: { id: number; epoch: number; seq: number }): PublishRequest {
  return { records: [{ key: null, headers: {}, fields: { value } }], producer };
}


/** The end offset of every partition of a stream. */
function ends(g: Gateway, stream: string): number[] {
  return g.services.streams.get(stream).partitions.map((p) => p.end_offset);
}

test("another subject can neither publish with a registered id nor fence it; the owner goes on", async () => {
  const log = gateway.services.log;
  const first = await log.publish("owned/one", request("a0", { id: X, epoch: 3, seq: 0 }), "local", A);
  const before = ends(gateway, "owned/one");
  for (const producer of [
    { id: X, epoch: 3, seq: 1 }, // the owner's next sequence
    { id: X, epoch: 3, seq: 0 }, // a retry of the owner's request
    { id: X, epoch: 4, seq: 0 }, // a new epoch: would fence the owner
    { id: X, epoch: 65535, seq: 0 },
    { id: X, epoch: 0, seq: 0 }, // an old epoch: would be PRODUCER_FENCED for the owner
    { id: X, epoch: 3, seq: 9 }, // would be a SEQUENCE_GAP for the owner
  ]) {
    const e = await failure(log.publish("owned/one", request("b", producer), "local", B));
    expect(e.code).toBe("FORBIDDEN");
    expect(e.status).toBe(403);
  }
  expect(ends(gateway, "owned/one")).toEqual(before);
  // The owner is not fenced: its retry is answered from memory and its next sequence appends.
  expect(await log.publish("owned/one", request("a0", { id: X, epoch: 3, seq: 0 }), "local", A)).toEqual(first);
  await log.publish("owned/one", request("a1", { id: X, epoch: 3, seq: 1 }), "local", A);
  const total = (offsets: number[]) => offsets.reduce((a, b) => a + b, 0);
  expect(total(ends(gateway, "owned/one"))).toBe(total(before) + 1);
});

test("an id is owned on every stream, not only where it was registered", async () => {
  const e = await failure(gateway.services.log.publish("owned/two", request("b", { id: X, epoch: 0, seq: 0 }), "local", B));
  expect(e.code).toBe("FORBIDDEN");
  expect(ends(gateway, "owned/two")).toEqual([0]);
  const positions = await gateway.services.log.publish("owned/two", request("a", { id: X, epoch: 0, seq: 0 }), "local", A);
  expect(positions).toEqual([{ partition: 0, offset: 0 }]);
});

test("two subjects racing for a new id: exactly one owns it", async () => {
  const id = 991;
  const log = gateway.services.log;
  const results = await Promise.allSettled(
    Array.from({ length: 8 }, (_, i) => log.publish("owned/one", request(`r${i}`, { id, epoch: 0, seq: 0 }), "local", i % 2 === 0 ? A : B)),
  );
  const winners = new Set(results.flatMap((r, i) => (r.status === "fulfilled" ? [i % 2] : [])));
  expect(winners.size).toBe(1);
  for (const [i, r] of results.entries()) {
    if (r.status === "rejected") {
      expect(winners.has(i % 2)).toBe(false);
      expect(r.reason).toBeInstanceOf(StrataError);
      expect((r.reason as StrataError).code).toBe("FORBIDDEN");
    }
  }
});

test("without a subject (auth off) producer ids are not checked, as before", async () => {
  const positions = await gateway.services.log.publish("owned/two", request("anon", { id: X, epoch: 0, seq: 1 }));
  expect(positions).toEqual([{ partition: 0, offset: 1 }]);
  const fresh = await gateway.services.log.publish("owned/two", request("anon", { id: 5, epoch: 0, seq: 0 }));
  expect(fresh.length).toBe(1);
  // An id first used without a subject is registered by the first subject that uses it.
  await gateway.services.log.publish("owned/two", request("b", { id: 5, epoch: 0, seq: 1 }), "local", B);
  expect((await failure(gateway.services.log.publish("owned/two", request("a", { id: 5, epoch: 0, seq: 2 }), "local", A))).code).toBe("FORBIDDEN");
});

test("the registration persists across a restart", async () => {
  await gateway.close();
  gateway = await openGateway({ dataDir, artefacts: { gcIntervalMs: 0 } });
  const before = ends(gateway, "owned/one");
  const e = await failure(gateway.services.log.publish("owned/one", request("b", { id: X, epoch: 9, seq: 0 }), "local", B));
  expect(e.code).toBe("FORBIDDEN");
  expect(ends(gateway, "owned/one")).toEqual(before);
  const next = await gateway.services.log.publish("owned/one", request("a2", { id: X, epoch: 3, seq: 2 }), "local", A);
  expect(next.length).toBe(1);
});

test("over HTTP with strata serve --auth: 403 for another subject's producer id, nothing written, the owner goes on", async () => {
  const dir = tempDir("strata-producer-owner-http-");
  const gw = await startGateway({ dataDir: dir, args: ["--auth"], timeoutMs: 60_000 });
  try {
    const adminToken = (await Bun.file(`${dir}/admin.token`).text()).trim();
    const call = async (token: string, method: string, path: string, body?: unknown) => {
      const response = await fetch(`${gw.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const tokenFor = async (subject: string) => {
      const issued = await call(adminToken, "POST", "/v1/tokens", { scopes: [{ action: "publish", streams: "owned/>" }], ttl_s: 3600, subject });
      expect(issued.status).toBe(201);
      return String(issued.body.token);
    };
    expect((await call(adminToken, "POST", "/v1/streams", { name: "owned/http", partitions: 1 })).status).toBeLessThan(300);
    const [a, b] = [await tokenFor("http-a"), await tokenFor("http-b")];
    const publish = (token: string, producer: { id: number; epoch: number; seq: number }) =>
      call(token, "POST", `/v1/streams/${encodeURIComponent("owned/http")}/records`, { records: [{ fields: { v: 1 } }], producer });
    const end = async () => {
      const info = await call(adminToken, "GET", `/v1/streams/${encodeURIComponent("owned/http")}`);
      const partitions = info.body.partitions as { end_offset: number }[];
      return partitions[0]!.end_offset;
    };
    expect((await publish(a, { id: X, epoch: 0, seq: 0 })).status).toBe(200);
    for (const producer of [{ id: X, epoch: 0, seq: 1 }, { id: X, epoch: 1, seq: 0 }, { id: X, epoch: 65535, seq: 0 }]) {
      const refused = await publish(b, producer);
      expect(refused.status).toBe(403);
      expect((refused.body.error as { code: string }).code).toBe("FORBIDDEN");
    }
    expect(await end()).toBe(1);
    expect((await publish(a, { id: X, epoch: 0, seq: 1 })).status).toBe(200);
    expect(await end()).toBe(2);
  } finally {
    await gw.stop();
    removeDir(dir);
  }
}, 90_000);

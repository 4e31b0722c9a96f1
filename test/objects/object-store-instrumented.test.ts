// InstrumentedObjectStore counts operations, failures and bytes into the gateway metrics.

import { afterAll, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGatewayMetrics } from "../../gateway/metrics.ts";
import { InstrumentedObjectStore } from "../../gateway/objects/instrumented-object-store.ts";
import { LocalObjectStore } from "../../gateway/objects/local-object-store.ts";
import { bytes, chunked, expectCode, listKeys } from "./object-store.contract.ts";

const root = await mkdtemp(join(tmpdir(), "strata-instrumented-"));
afterAll(() => rm(root, { recursive: true, force: true }));

test("counts operations, errors by code, and bytes read and written", async () => {
  const m = createGatewayMetrics();
  const inner = await LocalObjectStore.open(root);
  const s = new InstrumentedObjectStore(inner, m);
  expect(s.description).toBe(inner.description);

  await s.put("a", bytes(100, 1));
  await s.put("b", bytes(50, 2));
  await expectCode(s.put("a", bytes(7, 3), { ifNoneMatch: true }), "OBJECT_EXISTS");
  await s.putMultipart("c", chunked(bytes(3000, 4), [1000]));
  expect((await s.get("a")).length).toBe(100);
  expect((await s.get("b", { offset: 10, length: 20 })).length).toBe(20);
  await expectCode(s.get("missing"), "NOT_FOUND");
  await expectCode(s.get("a", { offset: 90, length: 20 }), "OFFSET_OUT_OF_RANGE");
  await expectCode(s.head("../bad"), "BAD_REQUEST");
  expect(await s.head("a")).toBeDefined();
  expect(await listKeys(s, "")).toEqual(["a", "b", "c"]);
  await expectCode(listKeys(s, "/bad"), "BAD_REQUEST");
  await s.delete("a");
  await s.deleteMany(["b", "c"]);

  const ops = (op: string) => m.objectStoreOps.get({ op });
  expect([ops("put"), ops("put_multipart"), ops("get"), ops("head"), ops("list"), ops("delete"), ops("delete_many")]).toEqual([
    3, 1, 4, 2, 2, 1, 1,
  ]);
  expect(m.objectStoreErrors.get({ op: "put", code: "OBJECT_EXISTS" })).toBe(1);
  expect(m.objectStoreErrors.get({ op: "get", code: "NOT_FOUND" })).toBe(1);
  expect(m.objectStoreErrors.get({ op: "get", code: "OFFSET_OUT_OF_RANGE" })).toBe(1);
  expect(m.objectStoreErrors.get({ op: "head", code: "BAD_REQUEST" })).toBe(1);
  expect(m.objectStoreErrors.get({ op: "list", code: "BAD_REQUEST" })).toBe(1);
  expect(m.objectStoreBytesWritten.get({ op: "put" })).toBe(150);
  expect(m.objectStoreBytesWritten.get({ op: "put_multipart" })).toBe(3000);
  expect(m.objectStoreBytesRead.get({ op: "get" })).toBe(120);

  const text = await m.registry.render();
  expect(text).toContain('strata_object_store_operations_total{op="put"} 3');
  expect(text).toContain('strata_object_store_errors_total{op="get",code="NOT_FOUND"} 1');
  expect(text).toContain('strata_object_store_read_bytes_total{op="get"} 120');
  await s.close();
});

test("putFile is forwarded to the inner store and counted", async () => {
  const m = createGatewayMetrics();
  const inner = await LocalObjectStore.open(join(root, "put-file"));
  const s = new InstrumentedObjectStore(inner, m);
  const src = join(root, "source.seg");
  await writeFile(src, bytes(4321, 5));
  expect((await s.putFile("seg", src)).size).toBe(4321);
  expect((await inner.get("seg")).length).toBe(4321);
  await expectCode(s.putFile("seg2", join(root, "no-such-file")), "STORAGE_ERROR");
  expect(m.objectStoreOps.get({ op: "put_file" })).toBe(2);
  expect(m.objectStoreErrors.get({ op: "put_file", code: "STORAGE_ERROR" })).toBe(1);
  expect(m.objectStoreBytesWritten.get({ op: "put_file" })).toBe(4321);
  await s.close();
});

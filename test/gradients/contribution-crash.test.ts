// The contribution's two writes (its row with the step's signature, then its record): a row left
// without a position by a gateway that died in between is finished by the rank's retry (another
// payload is GRADIENT_CONFLICT); an append that fails removes the row and the signature it fixed.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { openDatabase, type Database } from "../../gateway/db/database.ts";
import { toContribution } from "../../gateway/gradients/contribution.ts";
import { DEFAULT_GRADIENT_LIMITS } from "../../gateway/gradients/gradient-limits.ts";
import { GradientStore } from "../../gateway/gradients/gradient-store.ts";
import { fromJsonValue } from "../../core/log/json-value.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { contribute, f32Tensor, readAll } from "./gradient-fixtures.ts";

let live: LiveGateway;
let db: Database;
beforeAll(async () => {
  // Records of at most 1 KiB, so a larger contribution fails at the append, after its reservation.
  live = await liveGateway({ limits: { maxRecordBytes: 1024 } });
  // A second connection to the gateway's metadata file, as a crashed gateway would have left it.
  db = await openDatabase(`file:${join(live.dataDir, "strata.db")}`);
});
afterAll(async () => {
  db.close();
  await live.close();
});

test("a reserved contribution whose append never happened is appended by the same payload's retry", async () => {
  const stream = "grads/crashed";
  const body = { rank: 1, world_size: 2, tensors: { g: f32Tensor([2], [1, 2]) } };
  const tensors = { g: fromJsonValue(body.tensors.g, 1) };
  const c = toContribution({ ...body, tensors }, "msgpack", DEFAULT_GRADIENT_LIMITS);
  await new GradientStore(db.db).reserve({ stream, step: 5, rank: 1, digest: c.digest, signature: c.signature, stepsKept: 1000, now: Date.now() });
  expect(await readAll(live.url, stream)).toEqual([]);

  const conflict = await contribute(live.url, stream, 5, { ...body, tensors: { g: f32Tensor([2], [7, 7]) } });
  expect(conflict.status).toBe(409);
  expect(conflict.body.error?.code).toBe("GRADIENT_CONFLICT");

  const retried = await contribute(live.url, stream, 5, body);
  expect(retried.body).toEqual({ stream, step: 5, rank: 1, partition: 0, offset: 0 });
  expect((await contribute(live.url, stream, 5, body)).body.offset).toBe(0);
  expect((await readAll(live.url, stream)).length).toBe(1);
  // The reservation fixed the step's signature.
  expect((await contribute(live.url, stream, 5, { rank: 0, world_size: 2, tensors: { g: f32Tensor([3], [1, 2, 3]) } })).body.error?.code).toBe("TENSOR_MISMATCH");
});

test("an append that fails removes the contribution and the signature it fixed", async () => {
  const stream = "grads/too-large";
  const large = await contribute(live.url, stream, 0, { rank: 0, world_size: 2, tensors: { g: f32Tensor([512], new Array<number>(512).fill(1)) } });
  expect(large.status).toBe(413);
  expect(large.body.error?.code).toBe("RECORD_TOO_LARGE");
  // Another shape is now the step's first contribution, and the same rank may contribute again.
  const small = await contribute(live.url, stream, 0, { rank: 0, world_size: 2, tensors: { g: f32Tensor([2], [1, 2]) } });
  expect(small.status).toBe(200);
  expect((await readAll(live.url, stream)).length).toBe(1);
});

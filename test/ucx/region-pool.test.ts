// The registered region pool against a real UCX worker: regions are reused per endpoint and size
// class, never across endpoints; the byte budget evicts idle regions first, then makes a request
// wait for a release, then refuses it UNAVAILABLE at its deadline.
import { afterAll, describe, expect, test } from "bun:test";
import { RegionPool, sizeClass } from "../../gateway/ucx/region-pool.ts";
import type { UcxWorker } from "../../native/ucx-api.ts";
import { failure } from "../helpers/failure.ts";
import { ucxForTests } from "../helpers/ucx.ts";

const prepared = ucxForTests();
const KiB = 1024;
let worker: UcxWorker | undefined;

afterAll(async () => {
  await worker?.close();
});

describe.skipIf(!prepared.available)("RegionPool", () => {
  const open = (): UcxWorker => {
    if (!prepared.available) throw new Error("unreachable");
    worker ??= prepared.ucx.createWorker();
    return worker;
  };

  test("size classes are powers of two from 64 KiB", () => {
    expect([1, 64 * KiB, 64 * KiB + 1, 1000 * KiB].map(sizeClass)).toEqual([64 * KiB, 64 * KiB, 128 * KiB, 1024 * KiB]);
  });

  test("an owner gets its own idle region back; another owner never does", async () => {
    const pool = new RegionPool(open(), 1024 * KiB);
    const a = await pool.acquire(1, 100 * KiB, Date.now() + 1000);
    pool.giveBack(a);
    const again = await pool.acquire(1, 120 * KiB, Date.now() + 1000);
    expect(again.region).toBe(a.region);
    const other = await pool.acquire(2, 100 * KiB, Date.now() + 1000);
    expect(other.region).not.toBe(a.region);
    expect(pool.allocatedBytes).toBe(256 * KiB);
    pool.giveBack(again);
    pool.giveBack(other);
    pool.dropOwner(1);
    pool.dropOwner(2);
    expect(pool.allocatedBytes).toBe(0);
  });

  test("over the budget: idle regions are released first, then a request waits for a release, then is UNAVAILABLE", async () => {
    const pool = new RegionPool(open(), 256 * KiB);
    const idle = await pool.acquire(1, 128 * KiB, Date.now() + 1000);
    pool.giveBack(idle);
    const big = await pool.acquire(2, 256 * KiB, Date.now() + 1000); // evicts owner 1's idle region
    expect(pool.allocatedBytes).toBe(256 * KiB);
    const waiting = pool.acquire(3, 64 * KiB, Date.now() + 10_000);
    pool.giveBack(big);
    pool.dropOwner(2);
    const got = await waiting;
    expect(got.owner).toBe(3);
    const held = await pool.acquire(4, 128 * KiB, Date.now() + 1000);
    expect((await failure(pool.acquire(5, 128 * KiB, Date.now() + 50))).code).toBe("UNAVAILABLE");
    expect((await failure(pool.acquire(5, 512 * KiB, Date.now() + 50))).code).toBe("BATCH_TOO_LARGE");
    pool.giveBack(got);
    pool.giveBack(held);
    for (const owner of [3, 4]) pool.dropOwner(owner);
    expect(pool.allocatedBytes).toBe(0);
  });
});

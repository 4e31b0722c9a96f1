// The pinned floor retention asks for: the least start of the versions holding a partition,
// moving as versions are pinned, re-pinned and released.
import { expect, test } from "bun:test";
import { DatasetPins } from "../../gateway/datasets/dataset-pins.ts";

test("the floor is the least pinned start per (stream, partition), and goes with the last holder", () => {
  const pins = new DatasetPins();
  expect(pins.floor("s", 0)).toBeUndefined();
  pins.pin("a", "s", 0, 40);
  pins.pin("b", "s", 0, 10);
  pins.pin("b", "s", 1, 7);
  expect([pins.floor("s", 0), pins.floor("s", 1), pins.floor("t", 0)]).toEqual([10, 7, undefined]);
  pins.pin("b", "s", 0, 25); // a holder's second pin moves it
  expect(pins.floor("s", 0)).toBe(25);
  pins.unpin("b", "s", 0);
  expect(pins.floor("s", 0)).toBe(40);
  pins.unpin("a", "s", 0);
  pins.unpin("a", "s", 0); // unpinning twice is harmless
  expect(pins.floor("s", 0)).toBeUndefined();
  expect(pins.floor("s", 1)).toBe(7);
});

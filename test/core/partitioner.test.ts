import { expect, test } from "bun:test";
import { murmur2, partitionForKey } from "../../core/log/partitioner.ts";

// Values of Kafka's Java client (Utils.murmur2), as published with kafkajs's partitioner tests.
const KAFKA_MURMUR2: Record<string, number> = {
  "0": 971027396,
  "1": -1993445489,
  "128": -326012175,
  "2187": -1508407203,
  "16384": -325739742,
  "78125": -1654490814,
  "279936": 1462227128,
  "823543": -2014198330,
  "2097152": 607668903,
  "10000000": -1830336757,
  "170859375": -1658323481,
  "100:48069": 1009543857,
};

test("murmur2 matches Kafka's Java client on every tail length", () => {
  for (const [key, expected] of Object.entries(KAFKA_MURMUR2)) expect(murmur2(new TextEncoder().encode(key))).toBe(expected);
});

test("a keyed record always lands on the same partition in range", () => {
  const key = new TextEncoder().encode("device-42");
  const p = partitionForKey(key, 12);
  expect(p).toBeGreaterThanOrEqual(0);
  expect(p).toBeLessThan(12);
  for (let i = 0; i < 5; i++) expect(partitionForKey(key, 12)).toBe(p);
  // Kafka: toPositive(murmur2("0")) % 3
  expect(partitionForKey(new TextEncoder().encode("0"), 3)).toBe((971027396 & 0x7fffffff) % 3);
});

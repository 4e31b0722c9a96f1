// The portable generator of the dataset order (docs/dataset-order.md): SplitMix64 (Steele, Lea and
// Flood 2014), seeded per (seed, purpose, a, b) by a documented mixing, uniform integers by bitmask
// rejection (no modulo bias) and Durstenfeld's Fisher-Yates. Python's strata/order.py implements
// the same functions; both are checked against the test vectors of the doc.
import { invariant } from "../errors.ts";

const MASK64 = (1n << 64n) - 1n;
export const GOLDEN_GAMMA = 0x9e3779b97f4a7c15n;
const MIX_1 = 0xbf58476d1ce4e5b9n;
const MIX_2 = 0x94d049bb133111ebn;

/** The first output of SplitMix64 from state `x`: the finaliser of (x + gamma) mod 2^64. */
export function mix64(x: bigint): bigint {
  let z = (x + GOLDEN_GAMMA) & MASK64;
  z = ((z ^ (z >> 30n)) * MIX_1) & MASK64;
  z = ((z ^ (z >> 27n)) * MIX_2) & MASK64;
  return z ^ (z >> 31n);
}

/** What a generator is for; each purpose draws from its own independent sequence. */
export const PURPOSE = { spans: 1n, pieces: 2n, block: 3n } as const;

/** The initial state for (seed, purpose, a, b): mix64(mix64(mix64(mix64(seed) xor purpose) xor a) xor b). */
export function generatorKey(seed: bigint, purpose: bigint, a: bigint, b: bigint): bigint {
  // seed is mixed before the purpose goes in, so no (seed, purpose) pair shares a state with another.
  return mix64(mix64(mix64(mix64(seed & MASK64) ^ purpose) ^ (a & MASK64)) ^ (b & MASK64));
}

export class SplitMix64 {
  #state: bigint;
  constructor(state: bigint) {
    this.#state = state & MASK64;
  }

  /** The next 64-bit output: the state advances by gamma, the output is the finaliser of the new state. */
  next(): bigint {
    const out = mix64(this.#state);
    this.#state = (this.#state + GOLDEN_GAMMA) & MASK64;
    return out;
  }

  /** Uniform in [0, n), 1 <= n <= 2^53: the top bitLength(n - 1) bits of an output, drawn again while >= n. */
  below(n: number): number {
    invariant(Number.isSafeInteger(n) && n >= 1, `below(n) needs a positive safe integer, got ${n}`);
    if (n === 1) return 0;
    const shift = 64n - BigInt((n - 1).toString(2).length);
    for (;;) {
      const x = Number(this.next() >> shift);
      if (x < n) return x;
    }
  }
}

export function generatorFor(seed: bigint, purpose: bigint, a: bigint, b: bigint): SplitMix64 {
  return new SplitMix64(generatorKey(seed, purpose, a, b));
}

/** Durstenfeld's Fisher-Yates in place: for i from length-1 down to 1, swap items i and below(i + 1). */
export function fisherYates<T extends { length: number; [i: number]: number }>(items: T, rng: SplitMix64): T {
  for (let i = items.length - 1; i >= 1; i--) {
    const j = rng.below(i + 1);
    const held = items[i]!;
    items[i] = items[j]!;
    items[j] = held;
  }
  return items;
}

// Deterministic pseudo-random bytes and splits (xorshift32), so failures reproduce.

export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

export function randomBytes(length: number, seed: number): Uint8Array {
  const next = rng(seed);
  const out = new Uint8Array(length);
  const words = new Uint32Array(out.buffer, 0, length >>> 2);
  for (let i = 0; i < words.length; i++) words[i] = next();
  for (let i = words.length * 4; i < length; i++) out[i] = next() & 0xff;
  return out;
}

/** Cuts [0, length) into random pieces (some empty, some tiny, some large). */
export function randomSplits(length: number, seed: number, maxPiece = 1 << 20): number[] {
  const next = rng(seed);
  const cuts: number[] = [];
  let pos = 0;
  while (pos < length) {
    const r = next();
    const kind = r & 3;
    const size = kind === 0 ? 0 : kind === 1 ? r % 70 : kind === 2 ? r % 3000 : r % maxPiece;
    const take = Math.min(size, length - pos);
    cuts.push(take);
    pos += take;
  }
  return cuts;
}

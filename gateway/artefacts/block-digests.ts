// Per-block digests of a basis artefact, for delta uploads (docs/artefact-protocol.md, "Delta
// uploads"): the artefact cut into fixed blocks of block_size bytes (the last one shorter), each
// hashed with an algorithm Python has in C (hashlib), so a client without BLAKE3 can tell which of
// its blocks the gateway already holds. Computed by reading the artefact once, kept in a
// byte-bounded LRU, and computed once for concurrent askers.
import { createHash } from "node:crypto";
import { invariant, StrataError } from "../../core/errors.ts";
import { WeightedLru } from "../../core/util/byte-lru.ts";
import { SingleFlight } from "../../core/util/single-flight.ts";
import type { ArtefactLimits } from "./artefact-limits.ts";
import type { ArtefactService } from "./artefact-service.ts";
import { streamPieces } from "./stream-pieces.ts";

/** Block digest algorithms; sha256 is the faster of hashlib's in Debian's Python 3.11 (OpenSSL). */
export const BLOCK_DIGEST_ALGORITHMS = ["sha256"] as const;
export type BlockDigestAlgorithm = (typeof BLOCK_DIGEST_ALGORITHMS)[number];
export const DIGEST_BYTES = 32;

export interface BlockDigests {
  readonly basis: string;
  readonly size: number;
  readonly blockSize: number;
  readonly algorithm: BlockDigestAlgorithm;
  /** The blocks' digests back to back: DIGEST_BYTES each, ceil(size / blockSize) of them. */
  readonly digests: Uint8Array;
}

export function blockCount(size: number, blockSize: number): number {
  return Math.ceil(size / blockSize);
}

/** Refuses a block size outside the configured range, or one that cuts `size` into too many blocks. */
export function checkBlockSize(limits: ArtefactLimits, blockSize: number, size?: number): void {
  if (!Number.isSafeInteger(blockSize) || blockSize < limits.deltaMinBlockBytes || blockSize > limits.deltaMaxBlockBytes) {
    throw new StrataError("BAD_REQUEST", `block_size must be an integer in [${limits.deltaMinBlockBytes}, ${limits.deltaMaxBlockBytes}] (artefacts.deltaMinBlockBytes, artefacts.deltaMaxBlockBytes), got ${blockSize}`);
  }
  if (size !== undefined && blockCount(size, blockSize) > limits.deltaMaxBlocks) {
    throw new StrataError("PAYLOAD_TOO_LARGE", `a ${size}-byte basis has ${blockCount(size, blockSize)} blocks of ${blockSize} bytes, more than ${limits.deltaMaxBlocks} (artefacts.deltaMaxBlocks); use a larger block_size`);
  }
}

export class BlockDigestIndex {
  readonly #artefacts: ArtefactService;
  readonly #limits: ArtefactLimits;
  readonly #cache: WeightedLru<string, BlockDigests>;
  readonly #computing = new SingleFlight<string, BlockDigests>();

  constructor(artefacts: ArtefactService, limits: ArtefactLimits) {
    this.#artefacts = artefacts;
    this.#limits = limits;
    // Weighed by the digest bytes plus the key and object (a few hundred bytes).
    this.#cache = new WeightedLru(limits.blockDigestCacheBytes, (d) => d.digests.length + 256);
  }

  get limits(): ArtefactLimits {
    return this.#limits;
  }

  /** The basis's block digests; NOT_FOUND when the basis is not stored. */
  async digests(basis: string, blockSize: number, algorithm: BlockDigestAlgorithm = "sha256"): Promise<BlockDigests> {
    checkBlockSize(this.#limits, blockSize);
    const key = `${basis}:${blockSize}:${algorithm}`;
    const cached = this.#cache.get(key);
    if (cached) return cached;
    return this.#computing.run(key, async () => {
      const computed = await this.#compute(basis, blockSize, algorithm);
      this.#cache.set(key, computed);
      return computed;
    });
  }

  async #compute(basis: string, blockSize: number, algorithm: BlockDigestAlgorithm): Promise<BlockDigests> {
    const info = await this.#artefacts.info(basis);
    checkBlockSize(this.#limits, blockSize, info.size);
    const count = blockCount(info.size, blockSize);
    const digests = new Uint8Array(count * DIGEST_BYTES);
    const { stream } = await this.#artefacts.read(basis, 0, info.size);
    let block = 0;
    let filled = 0; // bytes of the current block hashed so far
    let hash = createHash(algorithm);
    const seal = (): void => {
      digests.set(hash.digest(), block * DIGEST_BYTES);
      block++;
      filled = 0;
      hash = createHash(algorithm);
    };
    for await (const piece of streamPieces(stream)) {
      let at = 0;
      while (at < piece.length) {
        const n = Math.min(piece.length - at, blockSize - filled);
        hash.update(piece.subarray(at, at + n));
        filled += n;
        at += n;
        if (filled === blockSize) seal();
      }
    }
    if (filled > 0) seal();
    invariant(block === count, `a ${info.size}-byte basis has ${count} blocks of ${blockSize}; ${block} were hashed`);
    return { basis, size: info.size, blockSize, algorithm, digests };
  }
}

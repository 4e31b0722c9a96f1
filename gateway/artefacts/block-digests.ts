// Per-block digests of a basis artefact, for delta uploads (docs/artefact-protocol.md, "Delta
// uploads"): the artefact cut into fixed blocks of block_size bytes (the last one shorter), each
// hashed with an algorithm Python has in C (hashlib), so a client without BLAKE3 can tell which of
// its blocks the gateway already holds. Computed by reading the artefact once, kept in a
// byte-bounded LRU, and computed once for concurrent askers.
import { createHash, type Hash } from "node:crypto";
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
    const hasher = new BlockHasher(blockSize, algorithm);
    const { stream } = await this.#artefacts.read(basis, 0, info.size);
    for await (const piece of streamPieces(stream)) hasher.update(piece);
    const digests = hasher.end();
    invariant(digests.length === count * DIGEST_BYTES, `a ${info.size}-byte basis has ${count} blocks of ${blockSize}; ${digests.length / DIGEST_BYTES} were hashed`);
    return { basis, size: info.size, blockSize, algorithm, digests };
  }

  /** Keeps digests computed elsewhere (a delta upload hashes the file it rebuilds): the next checkpoint's basis. */
  remember(digests: BlockDigests): void {
    invariant(digests.digests.length === blockCount(digests.size, digests.blockSize) * DIGEST_BYTES, "remembered digests cover every block");
    this.#cache.set(`${digests.basis}:${digests.blockSize}:${digests.algorithm}`, digests);
  }
}

/** Hashes a byte stream in fixed blocks as it passes, the last block short. */
export class BlockHasher {
  readonly #blockSize: number;
  readonly #algorithm: BlockDigestAlgorithm;
  readonly #digests: Uint8Array[] = [];
  #hash: Hash;
  #filled = 0; // bytes of the current block hashed so far
  #state: { kind: "hashing"; bytes: number } | { kind: "ended" } = { kind: "hashing", bytes: 0 };

  constructor(blockSize: number, algorithm: BlockDigestAlgorithm) {
    this.#blockSize = blockSize;
    this.#algorithm = algorithm;
    this.#hash = createHash(algorithm);
  }

  update(piece: Uint8Array): void {
    invariant(this.#state.kind === "hashing", "no bytes are hashed after end()");
    this.#state = { kind: "hashing", bytes: this.#state.bytes + piece.length };
    let at = 0;
    while (at < piece.length) {
      const n = Math.min(piece.length - at, this.#blockSize - this.#filled);
      this.#hash.update(piece.subarray(at, at + n));
      this.#filled += n;
      at += n;
      if (this.#filled === this.#blockSize) this.#seal();
    }
  }

  /** The digests back to back, DIGEST_BYTES each. */
  end(): Uint8Array {
    invariant(this.#state.kind === "hashing", "end() is called once");
    const bytes = this.#state.bytes;
    this.#state = { kind: "ended" };
    if (this.#filled > 0) this.#seal();
    invariant(this.#digests.length === Math.ceil(bytes / this.#blockSize), "one digest per block, the last one short");
    const out = new Uint8Array(this.#digests.length * DIGEST_BYTES);
    this.#digests.forEach((d, i) => out.set(d, i * DIGEST_BYTES));
    return out;
  }

  #seal(): void {
    this.#digests.push(this.#hash.digest());
    this.#hash = createHash(this.#algorithm);
    this.#filled = 0;
  }
}

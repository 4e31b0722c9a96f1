// Walks whole batches through a byte source (a local file or an object-store range reader),
// reading in chunks so small batches cost few reads and big ones are read once.
import { readBatchHeader, type BatchHeader } from "../../core/log/batch.ts";
import { StrataError } from "../../core/errors.ts";
import { errorText } from "../objects/errno.ts";

/**
 * Random access to the bytes of one segment (or WAL file). Returns at least `minLength` bytes
 * from `position` (fewer only at the end of the data) and up to `preferredLength` (more is
 * allowed too, e.g. the rest of an already cached range).
 */
export interface ByteSource {
  read(position: number, minLength: number, preferredLength: number): Promise<Uint8Array>;
  /**
   * For bytes this source returned and keeps in memory (a range cache): the positions of batches
   * already CRC-verified in them, which readBatches consults and adds to. Absent or undefined:
   * the bytes are fresh from disk or the object store, and every batch in them is verified.
   */
  verified?(bytes: Uint8Array): Set<number> | undefined;
}

export interface ReadBatch {
  readonly header: BatchHeader;
  /** The whole batch, CRC-verified. */
  readonly bytes: Uint8Array;
  /** Byte position in its segment or WAL file. */
  readonly position: number;
}

/** Buffered forward reader over a ByteSource, bounded by `end`. */
export class ChunkedReader {
  private buf: Uint8Array = new Uint8Array(0);
  private bufPos = 0;
  private bufVerified: Set<number> | undefined;

  constructor(
    private readonly source: ByteSource,
    private readonly end: number,
    private readonly chunkBytes: number,
  ) {}

  /** Bytes [position, position + length) clipped to `end`; may be shorter only at `end`. */
  async bytes(position: number, length: number): Promise<Uint8Array> {
    const want = Math.min(length, this.end - position);
    if (want <= 0) return new Uint8Array(0);
    if (position < this.bufPos || position + want > this.bufPos + this.buf.length) {
      const preferred = Math.min(Math.max(want, this.chunkBytes), this.end - position);
      const got = await this.source.read(position, want, preferred);
      this.bufVerified = this.source.verified?.(got);
      this.buf = got.length > this.end - position ? got.subarray(0, this.end - position) : got;
      this.bufPos = position;
    }
    const at = position - this.bufPos;
    return this.buf.subarray(at, Math.min(at + want, this.buf.length));
  }

  /** Bytes in the current chunk: a batch smaller than a quarter of it is copied out rather than pinning it. */
  get chunkLength(): number {
    return this.buf.length;
  }

  /** True when the batch at `position`, as held by the current chunk, was CRC-verified before. */
  isVerified(position: number): boolean {
    return this.bufVerified?.has(position) ?? false;
  }

  /** Records that the batch at `position` in the current chunk passed its CRC check. */
  markVerified(position: number): void {
    this.bufVerified?.add(position);
  }
}

/** Options of a walk over stored batches. */
interface WalkOptions {
  readonly position: number;
  readonly end: number;
  /** Names the file or object in errors. */
  readonly source: string;
  /**
   * "check": every batch's CRC32C is computed unless the reader's chunk says it passed before (a
   * range cache); "trusted": none is (a segment cache file verified as it entered the cache).
   */
  readonly crc?: "check" | "trusted";
  /** Called once per batch whose CRC was computed (a metric; tests count through it). */
  readonly onCrcCheck?: () => void;
  /**
   * Committed segments may have offset gaps (a compacted stream's rewritten segments keep their
   * records' offsets, docs/compaction.md): a batch may start past the previous one's end, never before.
   */
  readonly gaps?: boolean;
}

/**
 * The header of the batch at `pos`, CRC-checked unless `trusted`; throws CORRUPT_DATA on a bad,
 * short or discontinuous batch: these bytes were committed, so damage is never a torn tail here.
 */
function checkedBatch(reader: ChunkedReader, bytes: Uint8Array, pos: number, expected: number | undefined, opts: WalkOptions): BatchHeader {
  // Each batch is CRC-checked once per trip into memory (bytes fresh from disk or the object
  // store always, bytes a range cache holds only the first time a reader walks them), except
  // bytes of a cache file verified as a whole when it entered the cache.
  const verify = opts.crc !== "trusted" && !reader.isVerified(pos);
  let header: BatchHeader | null;
  try {
    // Stored batches are bounded by the region that holds them, not by today's publish limit
    // (lowering maxBatchBytes must not make acknowledged batches unreadable).
    header = readBatchHeader(bytes, { maxLength: opts.end - pos, verifyCrc: verify });
  } catch (e) {
    throw new StrataError("CORRUPT_DATA", `${opts.source}: batch at byte ${pos}: ${errorText(e)}`, { cause: e });
  }
  if (!header) throw new StrataError("CORRUPT_DATA", `${opts.source}: short batch at byte ${pos}`);
  if (verify) {
    reader.markVerified(pos);
    opts.onCrcCheck?.();
  }
  if (expected !== undefined && (opts.gaps ? header.baseOffset < expected : header.baseOffset !== expected)) {
    throw new StrataError("CORRUPT_DATA", `${opts.source}: batch at byte ${pos} has offset ${header.baseOffset}, expected ${expected}`);
  }
  return header;
}

/** The whole batch at `pos` (its length read from the first 64 bytes). */
async function batchBytes(reader: ChunkedReader, pos: number): Promise<Uint8Array> {
  const head = await reader.bytes(pos, 64);
  const length = head.length >= 8 ? new DataView(head.buffer, head.byteOffset, 8).getUint32(4, true) : 0;
  return reader.bytes(pos, Math.max(length, 64));
}

/**
 * Batches from `position` (a batch boundary, typically from the sparse index) up to `end`,
 * skipping those wholly before `fromOffset`, stopping once `maxBytes` are collected (the first
 * batch is always taken whole). Throws CORRUPT_DATA on a bad, short or discontinuous batch.
 */
export async function readBatches(
  reader: ChunkedReader,
  opts: WalkOptions & {
    fromOffset: number;
    maxBytes: number;
    /**
     * Whether to copy batches out of the read buffers: "never" when each read has its own buffer
     * (a view is all it takes), "small" when they are shared (a range cache): batches smaller than
     * a quarter of their chunk are copied, so a response never pins more than 4x its bytes.
     */
    copy: "never" | "small";
  },
): Promise<ReadBatch[]> {
  const out: ReadBatch[] = [];
  let collected = 0;
  let pos = opts.position;
  let expected: number | undefined;
  while (pos < opts.end && (out.length === 0 || collected < opts.maxBytes)) {
    const bytes = await batchBytes(reader, pos);
    const header = checkedBatch(reader, bytes, pos, expected, opts);
    expected = header.baseOffset + header.count;
    if (expected > opts.fromOffset) {
      const copy = opts.copy === "small" && header.length * 4 < reader.chunkLength;
      const batch = copy ? bytes.slice(0, header.length) : bytes.subarray(0, header.length);
      out.push({ header, bytes: batch, position: pos });
      collected += header.length;
    }
    pos += header.length;
  }
  return out;
}

/**
 * Checks every batch in [position, end) (CRC, framing, contiguous offsets) keeping none of them:
 * the reader may reuse one buffer for all reads (wal.ts's scanSource). Throws CORRUPT_DATA.
 */
export async function verifyBatches(reader: ChunkedReader, opts: WalkOptions): Promise<void> {
  let pos = opts.position;
  let expected: number | undefined;
  while (pos < opts.end) {
    const header = checkedBatch(reader, await batchBytes(reader, pos), pos, expected, { ...opts, crc: "check" });
    expected = header.baseOffset + header.count;
    pos += header.length;
  }
}

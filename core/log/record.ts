// The log model: values, records and producers, as every transport and the storage engine see them.

/** A tensor carried in a record field (MessagePack extension type 1). `data` is a view, never a copy. */
export interface Tensor {
  readonly kind: "tensor";
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

/** A pointer to a chunked artefact (MessagePack extension type 2). */
export interface ArtefactRef {
  readonly kind: "artefact";
  /** BLAKE3-256 of the manifest's encoding, 64 lowercase hex characters. */
  readonly manifest: string;
  readonly size: number;
  readonly mediaType: string;
}

export type Value =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | Tensor
  | ArtefactRef
  | readonly Value[]
  | { readonly [field: string]: Value };

export type Fields = { readonly [field: string]: Value };
export type Headers = { readonly [name: string]: string | Uint8Array };

/** What a publisher sends: the gateway assigns offset and timestamp. */
export interface RecordInput {
  readonly key: Uint8Array | null;
  readonly partition?: number;
  readonly headers: Headers;
  /** Null is a tombstone: on a compacted stream it removes the key (docs/compaction.md). */
  readonly fields: Fields | null;
}

/**
 * A tombstone: a record published with null fields (a compacted stream removes its key,
 * docs/compaction.md). A tombstone is data: readers receive it with `fields: null`.
 */
export function isTombstone(record: { readonly fields: unknown }): boolean {
  return record.fields === null;
}

/** Whether a stored record's fields (a range of its batch) are MessagePack nil: a tombstone, found without decoding. */
export function isStoredTombstone(record: { readonly batch: Uint8Array; readonly fields: readonly [number, number] }): boolean {
  return record.fields[1] - record.fields[0] === 1 && record.batch[record.fields[0]] === 0xc0;
}

/** A record as stored and served. */
export interface LogRecord {
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Uint8Array | null;
  readonly headers: Headers;
  /** Null for a tombstone (docs/compaction.md). */
  readonly fields: Fields | null;
}

/** Idempotent producer identity: a retried (id, epoch, seq) is acknowledged with its original offsets. */
export interface ProducerRef {
  readonly id: number;
  readonly epoch: number;
  readonly seq: number;
}

export type Acks = "local" | "durable";

// The object-store interface every storage component uses (segments, packs, manifests).
// Implementations: LocalObjectStore (a directory, the embedded default) and S3ObjectStore
// (any S3-compatible endpoint). Both pass the same contract suite (test/objects/).
//
// Semantics shared by every implementation:
// - Keys are validated by validateObjectKey (object-key.ts); a bad key is a BAD_REQUEST and
//   nothing is written.
// - put is atomic: a reader sees the old object, the new object, or nothing; never a prefix.
// - get of a missing key is NOT_FOUND; a range must lie inside the object (offset + length
//   <= size), else OFFSET_OUT_OF_RANGE: callers read exact ranges from footers and indexes,
//   so a silently short read would be a bug, never a result.
// - list yields every key under a prefix (plain string prefix, not a directory), in
//   lexicographic (byte) order, paging hidden.
// - delete and deleteMany are idempotent: missing keys are not an error.
// - Infrastructure failures are STORAGE_ERROR with the underlying error as `cause`.

export { validateObjectKey, MAX_OBJECT_KEY_LENGTH } from "./object-key.ts";

export interface ObjectInfo {
  key: string;
  size: number;
  /** Opaque version tag: changes when the object is replaced. Not a content hash (S3 multipart etags aren't either). */
  etag: string;
}

export interface ByteRange {
  offset: number;
  length: number;
}

export interface PutOptions {
  /**
   * Create only: fail with OBJECT_EXISTS when the key already exists (S3 `If-None-Match: *`).
   * On S3 a transport-level retry of a put that did land also reports OBJECT_EXISTS, so a
   * caller that must tell "mine" from "someone else's" compares head() (size, content) itself.
   */
  ifNoneMatch?: boolean;
}

export interface MultipartOptions {
  /** Bytes per uploaded part (S3 needs >= 5 MiB for all but the last part). */
  partSize?: number;
}

export interface ObjectStore {
  /** Where the objects live, for logs: "s3://bucket/prefix at http://host:port" or "dir:/path". */
  readonly description: string;
  put(key: string, body: Uint8Array, opts?: PutOptions): Promise<ObjectInfo>;
  /** Upload a big object from a stream of chunks of any size; atomic like put. */
  putMultipart(key: string, parts: AsyncIterable<Uint8Array>, opts?: MultipartOptions): Promise<ObjectInfo>;
  /**
   * Stores the current contents of the local file at `path` under `key`; atomic like put. The
   * file must not be modified afterwards (the directory store may hard-link it into place; it may
   * be renamed or deleted). A missing or unreadable file is STORAGE_ERROR and nothing is written.
   * Optional: object-file.ts putFile falls back to put / putMultipart streamed from the file.
   * `partSize`: a file larger than this may go up as a multipart upload of parts this size.
   */
  putFile?(key: string, path: string, opts?: MultipartOptions): Promise<ObjectInfo>;
  get(key: string, range?: ByteRange): Promise<Uint8Array>;
  head(key: string): Promise<ObjectInfo | undefined>;
  list(prefix: string): AsyncIterable<ObjectInfo>;
  delete(key: string): Promise<void>;
  deleteMany(keys: string[]): Promise<void>;
  close(): Promise<void>;
}

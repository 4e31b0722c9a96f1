// An ObjectStore decorator that counts operations, failures and bytes into the gateway metrics:
//   strata_object_store_operations_total{op}        every call, counted when it starts
//   strata_object_store_errors_total{op,code}       calls that threw; code is the StrataError code
//                                                   (NOT_FOUND, OBJECT_EXISTS, STORAGE_ERROR, …)
//                                                   or INTERNAL for anything else
//   strata_object_store_read_bytes_total{op}        bytes returned by get
//   strata_object_store_written_bytes_total{op}     bytes stored by successful put / putMultipart
// op is one of put, put_multipart, put_file, get, head, list, delete, delete_many. put_file
// forwards to the inner store's putFile, or streams the file through its put / putMultipart.

import { isStrataError } from "../../core/errors.ts";
import type { GatewayMetrics } from "../metrics.ts";
import { putFileInParts } from "./object-file.ts";
import type { ByteRange, MultipartOptions, ObjectInfo, ObjectStore, PutOptions } from "./object-store.ts";

export type ObjectStoreMetrics = Pick<
  GatewayMetrics,
  "objectStoreOps" | "objectStoreErrors" | "objectStoreBytesRead" | "objectStoreBytesWritten"
>;

/** Part size when the inner store has no putFile of its own. */
const FALLBACK_PART_BYTES = 8 * 1024 * 1024;

export class InstrumentedObjectStore implements ObjectStore {
  private readonly inner: ObjectStore;
  private readonly metrics: ObjectStoreMetrics;
  constructor(inner: ObjectStore, metrics: ObjectStoreMetrics) {
    this.inner = inner;
    this.metrics = metrics;
  }

  get description(): string {
    return this.inner.description;
  }

  async put(key: string, body: Uint8Array, opts?: PutOptions): Promise<ObjectInfo> {
    const info = await this.track("put", () => this.inner.put(key, body, opts));
    this.metrics.objectStoreBytesWritten.inc({ op: "put" }, info.size);
    return info;
  }

  async putMultipart(key: string, parts: AsyncIterable<Uint8Array>, opts?: MultipartOptions): Promise<ObjectInfo> {
    const info = await this.track("put_multipart", () => this.inner.putMultipart(key, parts, opts));
    this.metrics.objectStoreBytesWritten.inc({ op: "put_multipart" }, info.size);
    return info;
  }

  async putFile(key: string, path: string, opts?: MultipartOptions): Promise<ObjectInfo> {
    const inner = this.inner;
    const info = await this.track("put_file", () =>
      inner.putFile ? inner.putFile(key, path, opts) : putFileInParts(inner, key, path, opts?.partSize ?? FALLBACK_PART_BYTES));
    this.metrics.objectStoreBytesWritten.inc({ op: "put_file" }, info.size);
    return info;
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array> {
    const bytes = await this.track("get", () => this.inner.get(key, range));
    this.metrics.objectStoreBytesRead.inc({ op: "get" }, bytes.length);
    return bytes;
  }

  head(key: string): Promise<ObjectInfo | undefined> {
    return this.track("head", () => this.inner.head(key));
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    this.metrics.objectStoreOps.inc({ op: "list" });
    try {
      yield* this.inner.list(prefix);
    } catch (e) {
      this.countError("list", e);
      throw e;
    }
  }

  delete(key: string): Promise<void> {
    return this.track("delete", () => this.inner.delete(key));
  }

  deleteMany(keys: string[]): Promise<void> {
    return this.track("delete_many", () => this.inner.deleteMany(keys));
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async track<T>(op: string, call: () => Promise<T>): Promise<T> {
    this.metrics.objectStoreOps.inc({ op });
    try {
      return await call();
    } catch (e) {
      this.countError(op, e);
      throw e;
    }
  }

  private countError(op: string, e: unknown): void {
    this.metrics.objectStoreErrors.inc({ op, code: isStrataError(e) ? e.code : "INTERNAL" });
  }
}

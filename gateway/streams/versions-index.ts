// The artefact versions index (table artefact_versions): a row per appended record whose
// `artefact` field is an ArtefactRef, written by the LogService hook at append so a listing or a
// latest lookup reads an index instead of scanning the log back.
import { and, desc, eq, gte, like, lt } from "drizzle-orm";
import type { MetadataDb } from "../db/database.ts";
import { artefactVersions } from "../db/schema.ts";
import { toJsonValue } from "../../core/log/json-value.ts";
import type { ArtefactRef, Fields, Value } from "../../core/log/record.ts";
import type { VersionLimits } from "./versions-limits.ts";

/** The record fields push writes (edge/artefacts/artefact-field.ts names the same two). */
export const VERSION_ARTEFACT_FIELD = "artefact";
export const VERSION_FILE_NAME_FIELD = "file_name";

export type VersionRow = typeof artefactVersions.$inferSelect;

function isArtefactRef(v: Value | undefined): v is ArtefactRef {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && (v as { kind?: unknown }).kind === "artefact";
}

/** The version a record's fields make, or undefined when its `artefact` field is not an ArtefactRef. */
export function versionOfFields(fields: Fields, maxFieldsJsonBytes: number): Omit<VersionRow, "seq" | "stream" | "partition" | "offset" | "timestamp"> | undefined {
  const ref = fields[VERSION_ARTEFACT_FIELD];
  if (!isArtefactRef(ref)) return undefined;
  const fileName = fields[VERSION_FILE_NAME_FIELD];
  const rest: Record<string, Value> = {};
  for (const [k, v] of Object.entries(fields)) if (k !== VERSION_ARTEFACT_FIELD && k !== VERSION_FILE_NAME_FIELD) rest[k] = v;
  const json = JSON.stringify(toJsonValue(rest));
  return {
    artefact: ref.manifest,
    size: ref.size,
    mediaType: ref.mediaType,
    fileName: typeof fileName === "string" ? fileName : null,
    fields: new TextEncoder().encode(json).length <= maxFieldsJsonBytes ? json : null,
  };
}

/** Which rows of a stream still name records: a partition's start offset and the stream's creation time. */
export interface RetainedRange {
  /** The partition's first retained offset, or undefined when it is gone. */
  startOffset(partition: number): number | undefined;
  /** Rows older than the stream belong to a deleted stream of the same name. */
  readonly createdAt: number;
}

export class VersionsIndex {
  readonly #db: MetadataDb;
  readonly #limits: VersionLimits;

  constructor(db: MetadataDb, limits: VersionLimits) {
    this.#db = db;
    this.#limits = limits;
  }

  /** Indexes one appended record (idempotent: a record already indexed is left as it is). */
  async add(stream: string, partition: number, offset: number, timestamp: number, fields: Fields): Promise<void> {
    const version = versionOfFields(fields, this.#limits.maxFieldsJsonBytes);
    if (!version) return;
    await this.#db.insert(artefactVersions).values({ stream, partition, offset, timestamp, ...version }).onConflictDoNothing();
  }

  /**
   * Up to `limit` retained versions of the stream, newest first, before the cursor `before` (a
   * `seq`); rows retention removed are skipped (and deleted) as they are met.
   */
  async list(stream: string, retained: RetainedRange, limit: number, before?: number, artefactPrefix?: string): Promise<VersionRow[]> {
    const out: VersionRow[] = [];
    let cursor = before;
    for (;;) {
      const where = [eq(artefactVersions.stream, stream), gte(artefactVersions.timestamp, retained.createdAt)];
      if (cursor !== undefined) where.push(lt(artefactVersions.seq, cursor));
      if (artefactPrefix !== undefined) where.push(like(artefactVersions.artefact, `${artefactPrefix}%`));
      const page = await this.#db.select().from(artefactVersions).where(and(...where)).orderBy(desc(artefactVersions.seq)).limit(limit - out.length);
      const gone: number[] = [];
      for (const row of page) {
        const start = retained.startOffset(row.partition);
        if (start === undefined || row.offset < start) gone.push(row.seq);
        else out.push(row);
      }
      for (const seq of gone) await this.#db.delete(artefactVersions).where(eq(artefactVersions.seq, seq));
      if (page.length === 0 || out.length >= limit || gone.length === 0) return out;
      cursor = page[page.length - 1]!.seq;
    }
  }

  /** The version at a record, if it is one and retained. */
  async at(stream: string, retained: RetainedRange, partition: number, offset: number): Promise<VersionRow | undefined> {
    const start = retained.startOffset(partition);
    if (start === undefined || offset < start) return undefined;
    const [row] = await this.#db
      .select()
      .from(artefactVersions)
      .where(and(eq(artefactVersions.stream, stream), eq(artefactVersions.partition, partition), eq(artefactVersions.offset, offset), gte(artefactVersions.timestamp, retained.createdAt)));
    return row;
  }
}

// The dataset tables: versions and their pinned partitions are written in one transaction and
// live ones read back whole at start (without the match offsets, read per partition on demand).
import { and, eq, isNull } from "drizzle-orm";
import { StrataError } from "../../core/errors.ts";
import type { MetadataDb } from "../db/database.ts";
import { datasetPartitions, datasetVersions } from "../db/schema.ts";
import type { DatasetPartition, DatasetVersion } from "./dataset-wire.ts";

/** A partition of a version to store, with the packed offsets of its matches when filtered. */
export interface StoredPartition extends DatasetPartition {
  readonly matches: Uint8Array | null;
}

export class DatasetStore {
  constructor(private readonly db: MetadataDb) {}

  async insert(version: DatasetVersion, partitions: readonly StoredPartition[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.insert(datasetVersions).values({
        name: version.name,
        version: version.version,
        stream: version.stream,
        filter: version.filter,
        fields: version.fields === null ? null : JSON.stringify(version.fields),
        samples: version.samples,
        bytes: version.bytes,
        spanSamples: version.span_samples,
        createdAt: version.created_at,
      });
      if (partitions.length > 0) {
        await tx.insert(datasetPartitions).values(
          partitions.map((p) => ({
            name: version.name,
            version: version.version,
            partition: p.partition,
            start: p.start,
            end: p.end,
            samples: p.samples,
            firstIndex: p.first_index,
            matches: p.matches === null ? null : Buffer.from(p.matches.buffer, p.matches.byteOffset, p.matches.byteLength),
          })),
        );
      }
    });
  }

  /** The highest version number each name ever had, released ones included. */
  async lastVersions(): Promise<Map<string, number>> {
    const rows = await this.db.select({ name: datasetVersions.name, version: datasetVersions.version }).from(datasetVersions);
    const out = new Map<string, number>();
    for (const r of rows) out.set(r.name, Math.max(out.get(r.name) ?? 0, r.version));
    return out;
  }

  /** Every live (not released) version with its partitions, ascending. */
  async loadLive(): Promise<DatasetVersion[]> {
    const versions = await this.db.select().from(datasetVersions).where(isNull(datasetVersions.releasedAt)).orderBy(datasetVersions.name, datasetVersions.version);
    const parts = await this.db
      .select({
        name: datasetPartitions.name,
        version: datasetPartitions.version,
        partition: datasetPartitions.partition,
        start: datasetPartitions.start,
        end: datasetPartitions.end,
        samples: datasetPartitions.samples,
        firstIndex: datasetPartitions.firstIndex,
      })
      .from(datasetPartitions)
      .orderBy(datasetPartitions.name, datasetPartitions.version, datasetPartitions.partition);
    const byVersion = new Map<string, DatasetPartition[]>();
    for (const p of parts) {
      const key = versionKey(p.name, p.version);
      const list = byVersion.get(key) ?? [];
      list.push({ partition: p.partition, start: p.start, end: p.end, samples: p.samples, first_index: p.firstIndex });
      byVersion.set(key, list);
    }
    return versions.map((v) => ({
      name: v.name,
      version: v.version,
      stream: v.stream,
      filter: v.filter,
      fields: v.fields === null ? null : parseFields(v.fields),
      samples: v.samples,
      bytes: v.bytes,
      span_samples: v.spanSamples,
      created_at: v.createdAt,
      partitions: byVersion.get(versionKey(v.name, v.version)) ?? [],
    }));
  }

  /** The packed match offsets of one partition of a filtered version. */
  async matches(name: string, version: number, partition: number): Promise<Uint8Array | null> {
    const rows = await this.db
      .select({ matches: datasetPartitions.matches })
      .from(datasetPartitions)
      .where(and(eq(datasetPartitions.name, name), eq(datasetPartitions.version, version), eq(datasetPartitions.partition, partition)));
    const bytes = rows[0]?.matches;
    return bytes === undefined || bytes === null ? null : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Marks the version released and deletes its partitions (its pins) in one transaction. */
  async release(name: string, version: number, now: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.delete(datasetPartitions).where(and(eq(datasetPartitions.name, name), eq(datasetPartitions.version, version)));
      await tx.update(datasetVersions).set({ releasedAt: now }).where(and(eq(datasetVersions.name, name), eq(datasetVersions.version, version)));
    });
  }
}

export function versionKey(name: string, version: number): string {
  return `${name}\u0000${version}`;
}

function parseFields(text: string): string[] {
  const value: unknown = JSON.parse(text);
  if (!Array.isArray(value) || !value.every((f): f is string => typeof f === "string")) throw new StrataError("CORRUPT_DATA", `dataset fields column is not a list of names: ${text}`);
  return value;
}

// Pins as stored: which artefact of a pinned stream is at its path, and since when.
import { and, asc, eq } from "drizzle-orm";
import type { EdgeDatabase } from "../db/database.ts";
import { pins } from "../db/schema.ts";

export interface PinState {
  readonly stream: string;
  /** Absolute path of the local file. */
  readonly path: string;
  /** Id (manifest BLAKE3) of the artefact at `path`; null before the first pull. */
  readonly artefact: string | null;
  readonly size: number | null;
  /** When `artefact` was put at `path` (ms since the epoch). */
  readonly updated: number | null;
}

export class PinStore {
  readonly #db: EdgeDatabase;

  constructor(db: EdgeDatabase) {
    this.#db = db;
  }

  /** Registers a pin (keeping its state when it exists). */
  async add(stream: string, path: string): Promise<PinState> {
    return this.#db.serial.run(async () => {
      await this.#db.db.insert(pins).values({ stream, path }).onConflictDoNothing();
      const [row] = await this.#db.db.select().from(pins).where(and(eq(pins.stream, stream), eq(pins.path, path)));
      return { stream, path, artefact: row?.artefact ?? null, size: row?.size ?? null, updated: row?.updatedAt ?? null };
    });
  }

  async remove(stream: string, path: string): Promise<void> {
    await this.#db.serial.run(() => this.#db.db.delete(pins).where(and(eq(pins.stream, stream), eq(pins.path, path))));
  }

  async updated(stream: string, path: string, artefact: string, size: number): Promise<PinState> {
    const updatedAt = Date.now();
    await this.#db.serial.run(() =>
      this.#db.db
        .insert(pins)
        .values({ stream, path, artefact, size, updatedAt })
        .onConflictDoUpdate({ target: [pins.stream, pins.path], set: { artefact, size, updatedAt } }),
    );
    return { stream, path, artefact, size, updated: updatedAt };
  }

  async get(stream: string, path: string): Promise<PinState | null> {
    return this.#db.serial.run(async () => {
      const [row] = await this.#db.db.select().from(pins).where(and(eq(pins.stream, stream), eq(pins.path, path)));
      return row ? { stream, path, artefact: row.artefact, size: row.size, updated: row.updatedAt } : null;
    });
  }

  async list(): Promise<PinState[]> {
    return this.#db.serial.run(async () => {
      const rows = await this.#db.db.select().from(pins).orderBy(asc(pins.stream), asc(pins.path));
      return rows.map((r) => ({ stream: r.stream, path: r.path, artefact: r.artefact, size: r.size, updated: r.updatedAt }));
    });
  }
}

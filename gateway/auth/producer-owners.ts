// The registration of producer ids to subjects (ProducerOwnership): one row per id in the
// metadata database, written by the first authenticated publish that uses the id. The id space
// is global, not per stream: a producer (an edge node, a client) keeps one random 53-bit id
// across the streams it writes, and its subject owns it everywhere. Ownership never changes, so
// answers are cached once read.
import { eq } from "drizzle-orm";
import { getLogger } from "@logtape/logtape";
import { invariant, StrataError } from "../../core/errors.ts";
import { WeightedLru } from "../../core/util/byte-lru.ts";
import type { MetadataDb } from "../db/database.ts";
import { producerOwners } from "../db/schema.ts";
import type { Publisher } from "../streams/log-service.ts";
import type { ProducerOwnership } from "../streams/producer-sequencer.ts";
import type { GatewayAuth } from "./gateway-auth.ts";
import type { Principal } from "./principal.ts";

const log = getLogger(["strata", "auth"]);

/**
 * Who a publish comes from, for LogService.publish: the principal's subject with auth on (its
 * producer ids are then owned), nobody with auth off (nothing registered or checked).
 */
export function publisherOf(auth: GatewayAuth, principal: Principal): Publisher | undefined {
  return auth.kind === "tokens" ? { subject: principal.subject } : undefined;
}

/** Owners remembered in memory; a miss costs one read of the database. */
export const PRODUCER_OWNER_CACHE_ENTRIES = 100_000;

export class ProducerOwners implements ProducerOwnership {
  readonly #db: MetadataDb;
  readonly #owners: WeightedLru<number, string>;

  constructor(db: MetadataDb, cacheEntries = PRODUCER_OWNER_CACHE_ENTRIES) {
    this.#db = db;
    this.#owners = new WeightedLru(cacheEntries, () => 1);
  }

  async claim(producerId: number, subject: string): Promise<void> {
    invariant(Number.isSafeInteger(producerId) && producerId >= 0, `producer id ${producerId} is not a validated id`);
    const owner = this.#owners.get(producerId) ?? (await this.#register(producerId, subject));
    if (owner !== subject) {
      throw new StrataError("FORBIDDEN", `producer id ${producerId} belongs to another subject; pick another id`);
    }
  }

  /** The subject that owns `producerId`, if any. */
  async ownerOf(producerId: number): Promise<string | undefined> {
    const cached = this.#owners.get(producerId);
    if (cached !== undefined) return cached;
    const row = await this.#db.select({ subject: producerOwners.subject }).from(producerOwners).where(eq(producerOwners.producerId, producerId)).get();
    if (row) this.#owners.set(producerId, row.subject);
    return row?.subject;
  }

  /** Inserts the row unless one exists, then reads who owns the id (this subject, or the first). */
  async #register(producerId: number, subject: string): Promise<string> {
    const inserted = await this.#db
      .insert(producerOwners)
      .values({ producerId, subject, registeredAt: Date.now() })
      .onConflictDoNothing()
      .returning({ subject: producerOwners.subject });
    if (inserted.length > 0) log.debug("producer {producerId} registered to {subject}", { producerId, subject });
    const owner = await this.ownerOf(producerId);
    invariant(owner !== undefined, `producer id ${producerId} has no owner after its registration`);
    return owner;
  }
}

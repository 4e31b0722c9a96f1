// What every cluster table's statements share: the database's clock (the one clock that decides
// leases and membership, so gateways with skewed clocks agree) and the mapping of a failed
// metadata call to METADATA_UNAVAILABLE (503, retryable).
import { DB_NOW_MS } from "../db/db-clock.ts";
import { StrataError } from "../../core/errors.ts";

/** The database's clock in ms since the epoch (gateway/db/db-clock.ts). */
export const DB_NOW = DB_NOW_MS;

/** Runs one metadata call; a failure that is not already a StrataError becomes METADATA_UNAVAILABLE naming `what`. */
export async function metadataCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (e instanceof StrataError) throw e;
    throw new StrataError("METADATA_UNAVAILABLE", `${what}: the metadata database did not answer (${e instanceof Error ? e.message : String(e)})`, { cause: e });
  }
}

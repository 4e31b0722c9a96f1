// The metadata database's clock, the one clock that decides leases, membership and the pack
// commit window in cluster mode, so gateways whose own clocks drift still agree.
import { sql } from "drizzle-orm";

/** The database's clock in ms since the epoch, as SQL; the same expression on a libSQL server and an embedded file. */
export const DB_NOW_MS = sql.raw("CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)");

// Authentication as the transports see it: a bearer token in, a principal out. Off (the
// default), every request is the open principal; on (`strata serve --auth`), tokens are
// verified by the token service, and an administrator token exists from the first start.
import { getLogger } from "@logtape/logtape";
import { createHash, timingSafeEqual } from "node:crypto";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { StrataError } from "../../core/errors.ts";
import type { MetadataDb } from "../db/database.ts";
import { OPEN_PRINCIPAL, type Principal } from "./principal.ts";
import { loadOrCreateSharedSigningKey, loadOrCreateSigningKey } from "./signing-key.ts";
import { MAX_TOKEN_TTL_S } from "./token-schemas.ts";
import { TokenService } from "./token-service.ts";

const log = getLogger(["strata", "auth"]);

/** The administrator token written at first start (unless STRATA_ADMIN_TOKEN supplies one). */
export const ADMIN_TOKEN_FILE = "admin.token";
export const SIGNING_KEY_FILE = join("auth", "signing-key.jwk");
/** The subject of the administrator token. */
export const ADMIN_SUBJECT = "admin";

export type GatewayAuth =
  | { readonly kind: "open"; verify(bearer: string | undefined): Promise<Principal> }
  | { readonly kind: "tokens"; readonly tokens: TokenService; verify(bearer: string | undefined): Promise<Principal> };

export interface AuthOptions {
  readonly enabled: boolean;
  readonly dataDir: string;
  readonly db: MetadataDb;
  /** A fixed administrator secret (STRATA_ADMIN_TOKEN) used instead of a generated admin token. */
  readonly adminToken: string | undefined;
  /**
   * Cluster mode: the signing key is the cluster's, kept in the shared metadata database
   * (cluster_secrets "token-signing-key") instead of DATA/auth/signing-key.jwk, so tokens issued
   * by one gateway verify on every other. Revocations live in that database already.
   */
  readonly sharedKey?: boolean | undefined;
}

export const OPEN_AUTH: GatewayAuth = { kind: "open", verify: () => Promise.resolve(OPEN_PRINCIPAL) };

const STATIC_ADMIN: Principal = Object.freeze({ subject: ADMIN_SUBJECT, tokenId: "static-admin", scopes: Object.freeze([{ action: "admin" as const, streams: ">" }]) });

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** Keeps DATA/admin.token valid: issues a new administrator token if the file is missing, or its token expired or was revoked. */
async function ensureAdminTokenFile(file: string, tokens: TokenService): Promise<void> {
  let existing: string | undefined;
  try {
    existing = (await readFile(file, "utf8")).trim();
  } catch (e) {
    if (!(e instanceof Error && "code" in e && e.code === "ENOENT")) throw e;
  }
  if (existing !== undefined) {
    try {
      await tokens.verify(existing);
      await chmod(file, 0o600);
      return;
    } catch (e) {
      if (!(e instanceof StrataError && e.code === "UNAUTHENTICATED")) throw e;
      log.warn("the administrator token in {file} is no longer valid ({reason}); issuing a new one", { file, reason: e.message });
    }
  }
  const issued = await tokens.issue({ scopes: [{ action: "admin", streams: ">" }], ttlS: MAX_TOKEN_TTL_S, subject: ADMIN_SUBJECT });
  await writeFile(file, `${issued.token}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  log.info("wrote an administrator token to {file}", { file });
}

/**
 * Verification reads only the revocation set from the metadata database (every other failure is
 * already UNAUTHENTICATED): a database that cannot answer is a 503 to retry, never a 500, and
 * never a token let through on a revocation set older than REVOCATION_REFRESH_MS.
 */
function asMetadataUnavailable(e: unknown): never {
  if (e instanceof StrataError) throw e;
  throw new StrataError("METADATA_UNAVAILABLE", `checking the token against revocations needs the metadata database, which did not answer: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

export async function openAuth(options: AuthOptions): Promise<GatewayAuth> {
  if (!options.enabled) return OPEN_AUTH;
  const key = options.sharedKey ? await loadOrCreateSharedSigningKey(options.db) : await loadOrCreateSigningKey(join(options.dataDir, SIGNING_KEY_FILE));
  const tokens = new TokenService(options.db, key);
  const staticAdmin = options.adminToken === undefined ? undefined : digest(options.adminToken);
  if (staticAdmin === undefined) await ensureAdminTokenFile(join(options.dataDir, ADMIN_TOKEN_FILE), tokens);
  return {
    kind: "tokens",
    tokens,
    verify(bearer) {
      // Compared as digests, in constant time: the length of the secret leaks nothing either.
      if (staticAdmin !== undefined && bearer !== undefined && timingSafeEqual(digest(bearer), staticAdmin)) return Promise.resolve(STATIC_ADMIN);
      return tokens.verify(bearer).catch(asMetadataUnavailable);
    },
  };
}

// Issues, lists, revokes and verifies the gateway's access tokens: JWTs signed with its Ed25519
// key (signing-key.ts), listed in the metadata database. A revocation is seen by this process at
// once and by any other process on the same database within REVOCATION_REFRESH_MS.
import { getLogger } from "@logtape/logtape";
import { and, asc, eq, gt, isNotNull, isNull } from "drizzle-orm";
import { errors, jwtVerify, SignJWT } from "jose";
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { StrataError } from "../../core/errors.ts";
import { SingleFlight } from "../../core/util/single-flight.ts";
import type { MetadataDb } from "../db/database.ts";
import { tokens } from "../db/schema.ts";
import type { Principal } from "./principal.ts";
import { TOKEN_ALG, type SigningKey } from "./signing-key.ts";
import { issueTokenSchema, scopeSchema, tokenClaimsSchema, type IssuedToken, type TokenInfo } from "./token-schemas.ts";

const log = getLogger(["strata", "auth"]);

/** The oldest the revocation set may be when a token is checked against it. */
export const REVOCATION_REFRESH_MS = 1000;
/** Leeway for clocks between issuer and verifier, in seconds. */
const CLOCK_TOLERANCE_S = 5;

const storedScopesSchema = z.array(scopeSchema);

export interface IssueRequest {
  readonly scopes: z.output<typeof issueTokenSchema>["scopes"];
  readonly ttlS: number;
  /** Default: the token's id (a subject of its own). */
  readonly subject?: string | undefined;
}

function unauthenticated(message: string): StrataError {
  return new StrataError("UNAUTHENTICATED", message);
}

type RevocationSet = { kind: "unloaded" } | { kind: "loaded"; ids: ReadonlySet<string>; loadedAt: number };

export class TokenService {
  readonly #db: MetadataDb;
  readonly #key: SigningKey;
  #revoked: RevocationSet = { kind: "unloaded" };
  /** Revoked by this process: refused at once, even by a refresh that began before the revocation. */
  readonly #revokedHere = new Set<string>();
  readonly #refresh = new SingleFlight<"revoked", ReadonlySet<string>>();

  constructor(db: MetadataDb, key: SigningKey) {
    this.#db = db;
    this.#key = key;
  }

  async issue(request: IssueRequest): Promise<IssuedToken> {
    const body = issueTokenSchema.parse({ scopes: request.scopes, ttl_s: request.ttlS, subject: request.subject });
    const id = randomUUID();
    const subject = body.subject ?? id;
    const issuedAt = Math.floor(Date.now() / 1000);
    const expiresAt = issuedAt + body.ttl_s;
    const token = await new SignJWT({ scopes: body.scopes })
      .setProtectedHeader({ alg: TOKEN_ALG, kid: this.#key.keyId, typ: "JWT" })
      .setSubject(subject)
      .setJti(id)
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      .sign(this.#key.privateKey);
    await this.#db.insert(tokens).values({ id, subject, scopes: JSON.stringify(body.scopes), issuedAt: issuedAt * 1000, expiresAt: expiresAt * 1000 });
    log.info("issued token {id} to {subject}", { id, subject });
    return { token, id, expires_at: new Date(expiresAt * 1000).toISOString() };
  }

  async list(): Promise<TokenInfo[]> {
    const rows = await this.#db.select().from(tokens).orderBy(asc(tokens.issuedAt), asc(tokens.id));
    return rows.map((row) => ({
      id: row.id,
      subject: row.subject,
      scopes: storedScopesSchema.parse(JSON.parse(row.scopes)),
      issued_at: new Date(row.issuedAt).toISOString(),
      expires_at: new Date(row.expiresAt).toISOString(),
      revoked_at: row.revokedAt === null ? null : new Date(row.revokedAt).toISOString(),
    }));
  }

  /** Revokes a token (NOT_FOUND if no such token was issued); revoking twice keeps the first time. */
  async revoke(id: string): Promise<TokenInfo> {
    await this.#db.update(tokens).set({ revokedAt: Date.now() }).where(and(eq(tokens.id, id), isNull(tokens.revokedAt)));
    const info = (await this.list()).find((t) => t.id === id);
    if (info === undefined) throw new StrataError("NOT_FOUND", `no token ${JSON.stringify(id)}`);
    this.#revokedHere.add(id);
    log.info("revoked token {id}", { id });
    return info;
  }

  /** The principal a bearer token stands for; UNAUTHENTICATED if missing, malformed, badly signed, expired or revoked. */
  async verify(token: string | undefined): Promise<Principal> {
    if (token === undefined || token.length === 0) throw unauthenticated("a bearer token is required (Authorization: Bearer TOKEN)");
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, this.#key.publicKey, { algorithms: [TOKEN_ALG], requiredClaims: ["sub", "jti", "exp"], clockTolerance: CLOCK_TOLERANCE_S }));
    } catch (e) {
      if (e instanceof errors.JWTExpired) throw unauthenticated("the token has expired");
      if (e instanceof errors.JWSSignatureVerificationFailed) throw unauthenticated("the token's signature does not verify");
      throw unauthenticated("the token is malformed");
    }
    const claims = tokenClaimsSchema.safeParse(payload);
    if (!claims.success) throw unauthenticated("the token's claims are malformed");
    const revoked = await this.#revokedIds();
    if (revoked.has(claims.data.jti) || this.#revokedHere.has(claims.data.jti)) throw unauthenticated("the token has been revoked");
    return { subject: claims.data.sub, tokenId: claims.data.jti, scopes: claims.data.scopes };
  }

  async #revokedIds(): Promise<ReadonlySet<string>> {
    const state = this.#revoked;
    if (state.kind === "loaded" && Date.now() - state.loadedAt < REVOCATION_REFRESH_MS) return state.ids;
    return this.#refresh.run("revoked", async () => {
      const loadedAt = Date.now();
      // Expired tokens fail on their own: only the revoked ones still within their lifetime matter.
      const rows = await this.#db
        .select({ id: tokens.id })
        .from(tokens)
        .where(and(isNotNull(tokens.revokedAt), gt(tokens.expiresAt, loadedAt - CLOCK_TOLERANCE_S * 1000)));
      const ids = new Set(rows.map((r) => r.id));
      this.#revoked = { kind: "loaded", ids, loadedAt };
      return ids;
    });
  }
}

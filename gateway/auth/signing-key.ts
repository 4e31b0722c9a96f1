// The gateway's Ed25519 token-signing key: created at first start under the data directory
// (mode 0600, written once with O_EXCL) and loaded from there afterwards. In a cluster it is one
// key for every gateway, kept in the shared metadata database (cluster_secrets), so a token
// issued by any gateway verifies on all of them.
import { getLogger } from "@logtape/logtape";
import { eq } from "drizzle-orm";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from "jose";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import { StrataError } from "../../core/errors.ts";
import type { MetadataDb } from "../db/database.ts";
import { clusterSecrets } from "../db/schema.ts";

const log = getLogger(["strata", "auth"]);

/** JOSE names the algorithm EdDSA; Bun and Node export Ed25519 keys with alg "Ed25519", dropped here. */
export const TOKEN_ALG = "EdDSA";

const privateJwkSchema = z.object({ kty: z.literal("OKP"), crv: z.literal("Ed25519"), x: z.string().min(1), d: z.string().min(1) });

export interface SigningKey {
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  /** RFC 7638 thumbprint of the public key, the tokens' `kid`. */
  readonly keyId: string;
}

async function fromJwk(jwk: z.infer<typeof privateJwkSchema>): Promise<SigningKey> {
  const publicJwk: JWK = { kty: jwk.kty, crv: jwk.crv, x: jwk.x };
  const privateKey = await importJWK({ ...publicJwk, d: jwk.d }, TOKEN_ALG);
  const publicKey = await importJWK(publicJwk, TOKEN_ALG);
  if (!(privateKey instanceof CryptoKey) || !(publicKey instanceof CryptoKey)) throw new StrataError("INTERNAL", "an Ed25519 JWK imported as raw bytes");
  return { privateKey, publicKey, keyId: await calculateJwkThumbprint(publicJwk) };
}

async function readKeyFile(file: string): Promise<SigningKey | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if (e instanceof Error && "code" in e && e.code === "ENOENT") return undefined;
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = privateJwkSchema.safeParse(json);
  if (!parsed.success) throw new StrataError("BAD_REQUEST", `token signing key ${file} is not an Ed25519 private JWK; restore it or remove it (every issued token is then invalid)`);
  return fromJwk(parsed.data);
}

async function newPrivateJwk(): Promise<z.infer<typeof privateJwkSchema>> {
  const { privateKey } = await generateKeyPair(TOKEN_ALG, { crv: "Ed25519", extractable: true });
  const jwk = privateJwkSchema.parse(await exportJWK(privateKey));
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, d: jwk.d };
}

/** The cluster_secrets row holding a cluster's signing key. */
export const SHARED_SIGNING_KEY = "token-signing-key";

/**
 * The cluster's key from the shared metadata database, created by the first gateway that needs
 * it: every gateway offers a fresh key with INSERT OR IGNORE and then uses the one stored, so
 * concurrent first starts agree on one key.
 */
export async function loadOrCreateSharedSigningKey(db: MetadataDb): Promise<SigningKey> {
  const offered = await newPrivateJwk();
  const created = await db
    .insert(clusterSecrets)
    .values({ name: SHARED_SIGNING_KEY, value: JSON.stringify(offered), createdAt: Date.now() })
    .onConflictDoNothing()
    .returning({ name: clusterSecrets.name });
  const rows = await db.select({ value: clusterSecrets.value }).from(clusterSecrets).where(eq(clusterSecrets.name, SHARED_SIGNING_KEY));
  const stored = rows[0];
  if (stored === undefined) throw new StrataError("METADATA_UNAVAILABLE", `the metadata database lost the ${SHARED_SIGNING_KEY} row it just confirmed`);
  let json: unknown;
  try {
    json = JSON.parse(stored.value);
  } catch {
    json = undefined;
  }
  const parsed = privateJwkSchema.safeParse(json);
  if (!parsed.success) throw new StrataError("BAD_REQUEST", `cluster_secrets row ${SHARED_SIGNING_KEY} is not an Ed25519 private JWK; restore it or delete the row (every issued token is then invalid)`);
  if (created.length > 0) log.info("created the cluster's token signing key in the metadata database");
  return fromJwk(parsed.data);
}

/** Loads the key at `file`, creating it first if there is none. */
export async function loadOrCreateSigningKey(file: string): Promise<SigningKey> {
  const existing = await readKeyFile(file);
  if (existing) return existing;
  const jwk = await newPrivateJwk();
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  try {
    await writeFile(file, `${JSON.stringify(jwk)}\n`, { mode: 0o600, flag: "wx" });
  } catch (e) {
    // Another opener won the race: use its key.
    if (e instanceof Error && "code" in e && e.code === "EEXIST") {
      const raced = await readKeyFile(file);
      if (raced) return raced;
    }
    throw e;
  }
  log.info("created the token signing key {file}", { file });
  return fromJwk(jwk);
}

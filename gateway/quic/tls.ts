// The gateway's QUIC certificate: the files given with --tls-cert/--tls-key, or one generated
// once into <data>/tls with the openssl CLI and reused on every later start. Clients pin it by
// file (--ca) or by its SHA-256 fingerprint.
//
// The generated certificate is self-signed with keyUsage digitalSignature + keyCertSign and no
// basicConstraints: rustls (Deno) refuses a CA:TRUE certificate as the server's own
// ("CaUsedAsEndEntity") and BoringSSL (Bun) refuses a CA:FALSE one as a trust anchor
// ("unable to get local issuer certificate"); this form is accepted by both.
import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { chmod, mkdir, readFile, rm } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { StrataError } from "../../core/errors.ts";

export interface TlsIdentity {
  readonly certPem: string;
  readonly keyPem: string;
  /** SHA-256 of the certificate (DER), lowercase hex without separators. */
  readonly fingerprint: string;
  /** Where the certificate lives (what clients pass as --ca). */
  readonly certFile: string;
  readonly generated: boolean;
}

export interface TlsOptions {
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly dataDir: string;
  /** Names and addresses the generated certificate is valid for, besides localhost and loopback. */
  readonly names?: readonly string[];
}

/** Days the generated certificate is valid. */
export const GENERATED_CERT_DAYS = 3650;
const TLS_DIR = "tls";
const CERT_FILE = "quic-cert.pem";
const KEY_FILE = "quic-key.pem";

export function certificateFingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256.replace(/:/g, "").toLowerCase();
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const DNS_NAME = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;

function subjectAltNames(extra: readonly string[]): string {
  const entries = new Set(["DNS:localhost", "IP:127.0.0.1", "IP:::1"]);
  for (const name of [hostname(), ...extra]) {
    if (name === "" || name === "0.0.0.0" || name === "::") continue;
    if (IPV4.test(name) || name.includes(":")) entries.add(`IP:${name}`);
    else if (DNS_NAME.test(name)) entries.add(`DNS:${name}`);
  }
  return [...entries].join(",");
}

function generate(dir: string, names: readonly string[]): void {
  const config = [
    "[req]",
    "distinguished_name = dn",
    "x509_extensions = ext",
    "prompt = no",
    "[dn]",
    "CN = strata-gateway",
    "[ext]",
    `subjectAltName = ${subjectAltNames(names)}`,
    "keyUsage = critical,digitalSignature,keyCertSign",
    "extendedKeyUsage = serverAuth",
    "subjectKeyIdentifier = hash",
  ].join("\n");
  const configFile = join(dir, "openssl.cnf");
  writeFileSync(configFile, config);
  try {
    const result = spawnSync(
      "openssl",
      ["req", "-x509", "-config", configFile, "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", String(GENERATED_CERT_DAYS), "-keyout", join(dir, KEY_FILE), "-out", join(dir, CERT_FILE)],
      { encoding: "utf8" },
    );
    if (result.error || result.status !== 0) {
      const why = result.error ? result.error.message : result.stderr;
      throw new StrataError("UNAVAILABLE", `generating the QUIC certificate with openssl failed (install openssl, or pass --tls-cert and --tls-key): ${why}`);
    }
  } finally {
    rmSync(configFile, { force: true });
  }
}

export async function loadTlsIdentity(options: TlsOptions): Promise<TlsIdentity> {
  if ((options.certFile === undefined) !== (options.keyFile === undefined)) {
    throw new StrataError("BAD_REQUEST", "--tls-cert and --tls-key go together");
  }
  let certFile = options.certFile;
  let keyFile = options.keyFile;
  let generated = false;
  if (certFile === undefined || keyFile === undefined) {
    const dir = join(options.dataDir, TLS_DIR);
    certFile = join(dir, CERT_FILE);
    keyFile = join(dir, KEY_FILE);
    if (!existsSync(certFile) || !existsSync(keyFile)) {
      await mkdir(dir, { recursive: true });
      await rm(certFile, { force: true });
      generate(dir, options.names ?? []);
      await chmod(keyFile, 0o600);
      generated = true;
    }
  }
  const [certPem, keyPem] = await Promise.all([readFile(certFile, "utf8"), readFile(keyFile, "utf8")]);
  let fingerprint: string;
  try {
    fingerprint = certificateFingerprint(certPem);
  } catch (e) {
    throw new StrataError("BAD_REQUEST", `${certFile} is not a PEM certificate: ${(e as Error).message}`);
  }
  return { certPem, keyPem, fingerprint, certFile, generated };
}

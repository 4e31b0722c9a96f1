// Opens a QUIC connection with ALPN strata/1 under whichever runtime is running: node:quic
// (Bun) or Deno.connectQuic. The server is authenticated by a CA file (PEM) or, under Bun, by
// the SHA-256 fingerprint of its certificate.
import { StrataError } from "../../core/errors.ts";
import { QUIC_ALPN } from "../../core/quic/frames.ts";
import type { QuicConnection } from "../../core/quic/stream.ts";
import { withTimeout } from "../../core/quic/timeout.ts";
import { loadNodeQuic, wrapNodeSession } from "./node-quic.ts";
import { denoQuic, wrapDenoConn } from "./deno-quic.ts";

export interface QuicConnectOptions {
  readonly host: string;
  readonly port: number;
  /** Trusted certificates (PEM) the server's must chain to, e.g. the gateway's generated one. */
  readonly ca?: string;
  /** SHA-256 of the server certificate (hex, colons and case ignored). Bun only. */
  readonly fingerprint?: string;
  /** Name checked against the certificate; default the host. */
  readonly serverName?: string;
  /** Most bidirectional streams the server may open to us (we open ours; it opens none). */
  readonly maxIncomingStreams?: number;
  /** Handshake deadline. */
  readonly connectTimeoutMs?: number;
  /** Idle time after which the connection is dropped. */
  readonly idleTimeoutMs?: number;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/**
 * The gateway's certificate is not the one configured (wrong fingerprint, not signed by the CA,
 * not valid for the name): a configuration error no retry can mend, so callers stop on it.
 */
export class GatewayCertificateError extends StrataError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("BAD_REQUEST", message, options);
    this.name = "GatewayCertificateError";
  }
}

/** Deno refuses an untrusted certificate inside connectQuic, with rustls' words for why. */
const DENO_CERTIFICATE_FAILURE = /certificate|UnknownIssuer|NotValidForName/i;
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/** Lowercase hex without separators; BAD_REQUEST unless it is 64 hex digits. */
export function normalizeFingerprint(value: string): string {
  const hex = value.replace(/[:\s]/g, "").toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new StrataError("BAD_REQUEST", "a certificate fingerprint is 64 hex digits (SHA-256), colons allowed");
  return hex;
}

function handshakeTimedOut(ms: number): StrataError {
  return new StrataError("UNAVAILABLE", `QUIC handshake timed out after ${ms} ms`);
}

function isIpAddress(name: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.includes(":");
}

function hostForAddress(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

export async function connectQuic(options: QuicConnectOptions): Promise<QuicConnection> {
  if (!options.ca && !options.fingerprint) throw new StrataError("BAD_REQUEST", "QUIC needs a CA file or a certificate fingerprint to authenticate the gateway");
  const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const serverName = options.serverName ?? options.host;
  // PINGs keep an idle connection (an edge node waiting for data) from timing out.
  const keepAliveMs = Math.max(1000, Math.floor(idleMs / 3));
  if ((globalThis as { Deno?: unknown }).Deno) {
    if (!options.ca) {
      throw new StrataError("BAD_REQUEST", "Deno's QUIC API does not expose the server certificate, so a fingerprint cannot be checked: pass the CA file (--ca)");
    }
    const deno = denoQuic();
    const connecting = deno
      .connectQuic({
        hostname: options.host,
        port: options.port,
        serverName,
        alpnProtocols: [QUIC_ALPN],
        caCerts: [options.ca],
        maxConcurrentBidirectionalStreams: options.maxIncomingStreams ?? 0,
        maxConcurrentUnidirectionalStreams: 0,
        maxIdleTimeout: idleMs,
        keepAliveInterval: keepAliveMs,
      })
      .catch((e: unknown) => {
        const message = e instanceof Error ? e.message : String(e);
        if (DENO_CERTIFICATE_FAILURE.test(message)) throw new GatewayCertificateError(`gateway certificate not trusted: ${message}`, { cause: e });
        throw e;
      });
    const conn = await withTimeout(
      connecting,
      timeoutMs,
      () => handshakeTimedOut(timeoutMs),
    );
    if (conn.protocol !== undefined && conn.protocol !== QUIC_ALPN) {
      conn.close({ closeCode: 0, reason: "wrong ALPN" });
      throw new StrataError("UNAVAILABLE", `server chose ALPN ${conn.protocol}, not ${QUIC_ALPN}`);
    }
    return wrapDenoConn(conn);
  }
  const quic = await loadNodeQuic();
  const pinned = options.fingerprint ? normalizeFingerprint(options.fingerprint) : undefined;
  const session = await quic.connect(`${hostForAddress(options.host)}:${options.port}`, {
    alpn: QUIC_ALPN,
    // SNI carries names, never addresses.
    ...(isIpAddress(serverName) ? {} : { servername: serverName }),
    ...(options.ca ? { ca: [new TextEncoder().encode(options.ca)] } : {}),
    // The chain is checked by node:quic against `ca`; the name (node:quic checks DNS names
    // only, not IP addresses) and the pinned fingerprint are checked here.
    verifyPeer: "manual",
    keepAlive: keepAliveMs,
    // node:quic takes the idle timeout in seconds.
    transportParams: { initialMaxStreamsBidi: options.maxIncomingStreams ?? 0, initialMaxStreamsUni: 0, maxIdleTimeout: Math.ceil(idleMs / 1000) },
  });
  session.onerror = () => undefined;
  const info = await withTimeout(session.opened, timeoutMs, () => {
    session.destroy();
    return handshakeTimedOut(timeoutMs);
  });
  const refuse = (message: string): never => {
    session.destroy();
    throw new StrataError("UNAVAILABLE", message);
  };
  const untrusted = (message: string): never => {
    session.destroy();
    throw new GatewayCertificateError(message);
  };
  if (info.protocol !== QUIC_ALPN) refuse(`server chose ALPN ${info.protocol ?? "(none)"}, not ${QUIC_ALPN}`);
  const certificate = session.peerCertificate;
  if (!certificate) return refuse("the gateway presented no certificate");
  if (options.ca) {
    if (info.validationErrorReason !== undefined) untrusted(`gateway certificate not trusted: ${info.validationErrorReason}`);
    const nameOk = isIpAddress(serverName) ? certificate.checkIP(serverName) !== undefined : certificate.checkHost(serverName) !== undefined;
    if (!nameOk) untrusted(`gateway certificate is not valid for ${serverName}`);
  }
  if (pinned && normalizeFingerprint(certificate.fingerprint256) !== pinned) {
    untrusted(`gateway certificate fingerprint ${normalizeFingerprint(certificate.fingerprint256)} does not match the pinned ${pinned}`);
  }
  return wrapNodeSession(session, info.protocol);
}

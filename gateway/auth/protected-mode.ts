// Protected mode (after Redis's): a gateway without authentication listens only on loopback
// unless its operator says, with --insecure, that the network in front of it is trusted.
import { isIPv4, isIPv6 } from "node:net";

/** True for names and addresses that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  const lower = bare.toLowerCase();
  if (lower === "localhost" || lower.endsWith(".localhost")) return true;
  if (isIPv4(lower)) return lower.startsWith("127.");
  if (isIPv6(lower)) return lower === "::1" || /^::ffff:127\./.test(lower) || lower === "0:0:0:0:0:0:0:1";
  return false;
}

/** Why the gateway must not start as configured, or undefined when it may. */
export function protectedModeProblem(options: { host: string; auth: boolean; insecure: boolean }): string | undefined {
  if (options.auth || options.insecure || isLoopbackHost(options.host)) return undefined;
  return (
    `refusing to serve ${options.host} without authentication: anyone who reaches it could read, write and delete every stream. ` +
    "Add --auth (tokens with per-stream scopes; the admin token is written to DATA/admin.token), " +
    "or --insecure if the network in front of the gateway is trusted, or listen on 127.0.0.1"
  );
}

// Who a request acts as, and the one check every transport makes before calling a service.
import { allows, type Action, type Scope } from "../../core/auth/scopes.ts";
import { StrataError } from "../../core/errors.ts";

export interface Principal {
  /** Who the token was issued to; producer ids are owned per subject. */
  readonly subject: string;
  /** The token's id (its `jti`); empty for the open principal. */
  readonly tokenId: string;
  readonly scopes: readonly Scope[];
}

/** Every request's principal when authentication is off: allowed everything, as before --auth existed. */
export const OPEN_PRINCIPAL: Principal = Object.freeze({
  subject: "anonymous",
  tokenId: "",
  scopes: Object.freeze<Scope[]>([{ action: "admin", streams: ">" }]),
});

function describe(action: Action, stream: string | undefined): string {
  return stream === undefined ? `${action} on any stream` : `${action} on stream ${JSON.stringify(stream)}`;
}

/**
 * Throws FORBIDDEN unless the principal may `action` on `stream` (or, without a stream, on at
 * least one stream). Gateway-wide admin operations (tokens, GC) go through authorizeAdmin.
 */
export function authorize(principal: Principal, action: Action, stream?: string): void {
  if (!allows(principal.scopes, action, stream)) {
    throw new StrataError("FORBIDDEN", `token of ${JSON.stringify(principal.subject)} does not allow ${describe(action, stream)}`);
  }
}

/** Throws FORBIDDEN unless one of `actions` is allowed on `stream` (or, without one, on some stream); the message names the first. */
export function authorizeAny(principal: Principal, actions: readonly [Action, ...Action[]], stream?: string): void {
  if (actions.some((action) => allows(principal.scopes, action, stream))) return;
  authorize(principal, actions[0], stream);
}

/** Throws FORBIDDEN unless the principal is an administrator of every stream (`admin:>`): tokens and GC act gateway-wide. */
export function authorizeAdmin(principal: Principal): void {
  if (!principal.scopes.some((s) => s.action === "admin" && s.streams === ">")) {
    throw new StrataError("FORBIDDEN", `token of ${JSON.stringify(principal.subject)} is not a gateway administrator (admin:>)`);
  }
}

/** Whether the principal may `action` on `stream`, for filtering lists. */
export function permits(principal: Principal, action: Action, stream?: string): boolean {
  return allows(principal.scopes, action, stream);
}

/** Throws FORBIDDEN unless the principal may read the metrics: a `metrics` scope, or administrator of every stream (the metrics name every stream). */
export function authorizeMetrics(principal: Principal): void {
  if (principal.scopes.some((s) => s.action === "metrics")) return;
  authorizeAdmin(principal);
}

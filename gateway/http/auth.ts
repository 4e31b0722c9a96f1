// Authentication on HTTP: `Authorization: Bearer TOKEN` is verified before any body is read, and
// the principal is handed to the routes, which authorise their own action and stream with
// gateway/auth/principal.ts. A missing or refused token is 401 with `WWW-Authenticate: Bearer`.
import type { Context, MiddlewareHandler } from "hono";
import { invariant, StrataError } from "../../core/errors.ts";
import type { GatewayAuth } from "../auth/gateway-auth.ts";
import type { Action } from "../../core/auth/scopes.ts";
import { authorizeAdmin, authorizeAny, type Principal } from "../auth/principal.ts";

/** What the auth middleware sets on the context. */
export interface AuthEnv {
  Variables: { principal: Principal };
}

const BEARER = /^Bearer[ \t]+([^ \t]+)[ \t]*$/i;

/** The token of an Authorization header; UNAUTHENTICATED if the header is there but not `Bearer TOKEN`. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined || header.length === 0) return undefined;
  const match = BEARER.exec(header);
  if (match === null) throw new StrataError("UNAUTHENTICATED", "the Authorization header must be `Bearer TOKEN`");
  return match[1];
}

/** Verifies the request's bearer token (every request is the open principal while auth is off). */
export function authenticate(auth: GatewayAuth): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    c.set("principal", await auth.verify(bearerToken(c.req.header("authorization"))));
    await next();
  };
}

/** The principal the auth middleware found; its absence is a routing bug. */
export function principalOf(c: Context<AuthEnv>): Principal {
  const principal = c.get("principal");
  invariant(principal !== undefined, `no principal on ${c.req.method} ${c.req.path}: the auth middleware did not run`);
  return principal;
}

/** The actions of which any one allows a request. */
export type Needs = readonly [Action, ...Action[]];

/**
 * A route's own check, before its body is read: one of the actions (given, or chosen by the
 * request's method) on the stream named in the path (`streamParam`), or on any stream when the
 * route names none (chunks, manifests). Mounted with `use` so the typed client's route types
 * stay those of the route's validators.
 */
export function requireScope(needs: Needs | ((method: string) => Needs), streamParam?: string): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const stream = streamParam === undefined ? undefined : c.req.param(streamParam);
    authorizeAny(principalOf(c), typeof needs === "function" ? needs(c.req.method) : needs, stream);
    await next();
  };
}

/** Gateway-wide administration (tokens, GC): admin on every stream. */
export const requireAdmin: MiddlewareHandler<AuthEnv> = async (c, next) => {
  authorizeAdmin(principalOf(c));
  await next();
};

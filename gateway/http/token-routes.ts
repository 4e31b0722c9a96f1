// Token administration (docs/auth.md): issue, list and revoke, for gateway administrators
// (admin:>). With authentication off there are no tokens: these answer 404.
import { Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { StrataError } from "../../core/errors.ts";
import type { GatewayAuth } from "../auth/gateway-auth.ts";
import { issueTokenSchema } from "../auth/token-schemas.ts";
import type { BoundedMsgpackDecoder } from "../../core/log/msgpack-bounds.ts";
import type { TokenService } from "../auth/token-service.ts";
import { requireAdmin, type AuthEnv } from "./auth.ts";
import { validBody, validParams } from "./validate.ts";

const tokenParams = z.object({ id: z.string().min(1).max(100) });

function tokenService(auth: GatewayAuth): TokenService {
  if (auth.kind === "open") throw new StrataError("NOT_FOUND", "authentication is off (strata serve --auth): there are no tokens");
  return auth.tokens;
}

export function tokenRoutes(auth: GatewayAuth, limited: MiddlewareHandler, decoder: BoundedMsgpackDecoder) {
  return new Hono<AuthEnv>()
    .use("/tokens", requireAdmin)
    .use("/tokens/*", requireAdmin)
    .post("/tokens", limited, validBody(issueTokenSchema, decoder), async (c) => {
      const { scopes, ttl_s, subject } = c.req.valid("json").body;
      return c.json(await tokenService(auth).issue({ scopes, ttlS: ttl_s, subject }), 201);
    })
    .get("/tokens", async (c) => {
      return c.json({ tokens: await tokenService(auth).list() });
    })
    .delete("/tokens/:id", validParams("param", tokenParams), async (c) => {
      return c.json(await tokenService(auth).revoke(c.req.valid("param").id));
    });
}

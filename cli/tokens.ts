// `strata tokens issue|list|revoke`: the gateway's access tokens, administered over its HTTP API
// (POST, GET /v1/tokens, DELETE /v1/tokens/{id}) with an admin token (`DATA/admin.token` at first).
import type { Command } from "commander";
import { z } from "zod";
import { parseScope, type Scope } from "../core/auth/scopes.ts";
import { StrataError } from "../core/errors.ts";
import { GatewayHttp } from "../edge/artefacts/gateway-http.ts";
import { defineAction } from "./command.ts";
import { withGateway } from "./gateway-errors.ts";
import { caFileText, caOption } from "./gateway-client.ts";
import { tokenOption, tokenText } from "./gateway-token.ts";
import { gatewayHttpOf, gatewayOption, httpUrlText } from "./gateway-url.ts";
import { collect, secondsText } from "./option-schemas.ts";
import { writeOut } from "./stdout.ts";

const REQUEST_TIMEOUT_MS = 30_000;
const JSON_TYPE = "application/json";

const issueDetails = `
Each --scope is ACTION:STREAMS: ACTION one of publish, consume, admin, metrics; STREAMS a glob
over stream names in the NATS style, "*" one path segment and ">" the rest (sensors/>,
telemetry/*/raw, > for every stream). consume on a stream also covers its consumer groups. admin
allows every action on the streams it matches, and gateway-wide administration (tokens, GC) with
STREAMS ">". Prints the token alone (for TOKEN=$(strata tokens issue ...)); --json prints
{"token", "id", "expires_at"}. Revoke it with \`strata tokens revoke ID\`.`;

const scopeText = z.string().transform((text, ctx): Scope => {
  try {
    return parseScope(text);
  } catch (e) {
    ctx.issues.push({ code: "custom", message: e instanceof StrataError ? e.message : String(e), input: text });
    return z.NEVER;
  }
});

const connection = { gateway: httpUrlText, token: tokenText, ca: caFileText };

const scopeAnswer = z.object({ action: z.string(), streams: z.string() });
const issuedAnswer = z.object({ token: z.string().min(1), id: z.string().min(1), expires_at: z.string() });
const tokenInfo = z.object({
  id: z.string(),
  subject: z.string(),
  scopes: z.array(scopeAnswer),
  issued_at: z.string(),
  expires_at: z.string(),
  revoked_at: z.string().nullable(),
});
type TokenInfo = z.output<typeof tokenInfo>;
const tokenList = z.object({ tokens: z.array(tokenInfo) });

function gatewayHttp(opts: { gateway: string; token: string | undefined; ca: string | undefined }): GatewayHttp {
  return gatewayHttpOf(opts, { requestTimeoutMs: REQUEST_TIMEOUT_MS, attempts: 1 });
}

/** The JSON body of a 2xx answer, checked against `schema`. */
async function answerOf<S extends z.ZodType>(response: Response, schema: S, what: string): Promise<z.output<S>> {
  let body: unknown;
  try {
    body = await response.json();
  } catch (e) {
    throw new StrataError("UNAVAILABLE", `${what}: the answer was cut short or is not JSON`, { cause: e });
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new StrataError("CORRUPT_DATA", `${what}: unexpected answer: ${parsed.error.issues[0]?.message ?? "malformed"}`);
  return parsed.data;
}

function infoLine(t: TokenInfo): string {
  const state = t.revoked_at !== null ? `revoked=${t.revoked_at}` : Date.parse(t.expires_at) <= Date.now() ? "expired" : "active";
  const scopes = t.scopes.map((s) => `${s.action}:${s.streams}`).join(",");
  return `${t.id}\tsubject=${t.subject}\tscopes=${scopes}\texpires=${t.expires_at}\t${state}\n`;
}

export function registerTokens(program: Command): void {
  const tokens = program
    .command("tokens")
    .summary("issue, list and revoke the gateway's access tokens (admin)")
    .description("Issue, list and revoke the access tokens of a gateway started with `strata serve --auth`; needs an admin token.");

  const issue = tokens
    .command("issue")
    .description("Issues a signed token with the given scopes.")
    .option("--scope <ACTION:STREAMS>", "what the token allows, e.g. publish:sensors/> (repeatable)", collect, [])
    .requiredOption("--ttl <DURATION>", "lifetime: seconds, or with s/m/h/d (90s, 30m, 24h, 7d)")
    .option("--subject <S>", "who the token is for (owns the producer ids it registers); default: the gateway picks one")
    .option("--json", 'print {"token", "id", "expires_at"}')
    .addOption(gatewayOption())
    .addOption(tokenOption())
    .addOption(caOption())
    .addHelpText("after", issueDetails);
  defineAction(
    issue,
    {
      args: z.tuple([]),
      opts: z.object({
        scope: z.array(scopeText).min(1, { message: "give at least one --scope ACTION:STREAMS" }),
        ttl: secondsText,
        subject: z.string().optional(),
        json: z.boolean().default(false),
        ...connection,
      }),
    },
    async (_args, opts) =>
      withGateway(opts.gateway, async () => {
        const body = { scopes: opts.scope, ttl_s: opts.ttl, ...(opts.subject !== undefined ? { subject: opts.subject } : {}) };
        const what = "issue token";
        const response = await gatewayHttp(opts).request("/v1/tokens", { method: "POST", body: JSON.stringify(body), contentType: JSON_TYPE, accept: JSON_TYPE, idempotent: false }, what);
        const issued = await answerOf(response, issuedAnswer, what);
        await writeOut(opts.json ? `${JSON.stringify(issued)}\n` : `${issued.token}\n`);
        return 0;
      }),
  );

  const list = tokens
    .command("list")
    .description("Lists the issued tokens without their secrets: id, subject, scopes, expiry, revocation (one line each; --json: one object).")
    .option("--json", 'print {"tokens": [{"id", "subject", "scopes", "issued_at", "expires_at", "revoked_at"}]}')
    .addOption(gatewayOption())
    .addOption(tokenOption())
    .addOption(caOption());
  defineAction(list, { args: z.tuple([]), opts: z.object({ json: z.boolean().default(false), ...connection }) }, async (_args, opts) =>
    withGateway(opts.gateway, async () => {
      const what = "list tokens";
      const answer = await answerOf(await gatewayHttp(opts).request("/v1/tokens", { method: "GET", accept: JSON_TYPE }, what), tokenList, what);
      await writeOut(opts.json ? `${JSON.stringify(answer)}\n` : answer.tokens.map(infoLine).join(""));
      return 0;
    }),
  );

  const revoke = tokens
    .command("revoke")
    .description("Revokes a token: the gateway refuses it (UNAUTHENTICATED) within a second.")
    .argument("<ID>", "the token's id (from `strata tokens list`, or the issue's --json)")
    .option("-q, --quiet", "print nothing on success")
    .addOption(gatewayOption())
    .addOption(tokenOption())
    .addOption(caOption());
  defineAction(revoke, { args: z.tuple([z.string().min(1)]), opts: z.object({ quiet: z.boolean().default(false), ...connection }) }, async ([id], opts) =>
    withGateway(opts.gateway, async () => {
      // DELETE is idempotent: revoking twice keeps the first revocation.
      const response = await gatewayHttp(opts).request(`/v1/tokens/${encodeURIComponent(id)}`, { method: "DELETE", accept: JSON_TYPE }, `revoke token ${id}`);
      await response.body?.cancel();
      if (!opts.quiet) await writeOut(`revoked ${id}\n`);
      return 0;
    }),
  );
}

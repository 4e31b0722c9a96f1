// The wire shapes of tokens: the issue request (POST /v1/tokens), the JWT claims, a listed token.
import { z } from "zod";
import { ACTIONS, globProblem, type Scope } from "../../core/auth/scopes.ts";

/** The longest lifetime a token may be issued with: ten years. */
export const MAX_TOKEN_TTL_S = 10 * 365 * 24 * 3600;
/** Scopes per token. */
export const MAX_SCOPES = 64;
const SUBJECT = /^[\x21-\x7e]{1,200}$/;

export const scopeSchema = z.object({
  action: z.enum(ACTIONS, { message: `action must be one of ${ACTIONS.join(", ")}` }),
  streams: z.string().superRefine((glob, ctx) => {
    const problem = globProblem(glob);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
  }),
}) satisfies z.ZodType<Scope>;

export const subjectSchema = z.string().regex(SUBJECT, { message: "subject must be 1 to 200 printable ASCII characters without spaces" });

/** POST /v1/tokens. */
export const issueTokenSchema = z.strictObject({
  scopes: z.array(scopeSchema).min(1).max(MAX_SCOPES),
  ttl_s: z.number().int().min(1).max(MAX_TOKEN_TTL_S),
  subject: subjectSchema.optional(),
});
export type IssueTokenBody = z.input<typeof issueTokenSchema>;

/** The claims a token must carry beyond its signature. */
export const tokenClaimsSchema = z.object({
  sub: subjectSchema,
  jti: z.string().min(1).max(100),
  exp: z.number().int(),
  scopes: z.array(scopeSchema).min(1).max(MAX_SCOPES),
});

export interface IssuedToken {
  readonly token: string;
  readonly id: string;
  /** ISO 8601. */
  readonly expires_at: string;
}

/** A token as GET /v1/tokens lists it: everything but the secret. */
export interface TokenInfo {
  readonly id: string;
  readonly subject: string;
  readonly scopes: readonly Scope[];
  readonly issued_at: string;
  readonly expires_at: string;
  readonly revoked_at: string | null;
}

// Route input validated by zod schemas, which are the one source of each input's type: hono/client
// reads the route's input types from these middlewares, so the typed client is checked against
// what the gateway accepts. Bodies may be JSON or MessagePack: the body is decoded by its
// Content-Type and the decoded value goes through the same schema either way. Query and path
// parameters go through Hono's validator (sValidator). Failures are BAD_REQUEST.
import { sValidator } from "@hono/standard-validator";
import type { Env, MiddlewareHandler } from "hono";
import type { z } from "zod";
import { StrataError } from "../../core/errors.ts";
import type { BoundedMsgpackDecoder } from "../../core/log/msgpack-bounds.ts";
import type { BodyForm } from "../../core/log/publish-request.ts";
import { describeIssues } from "../../core/util/parse-input.ts";
import { readBody, requestForm } from "./negotiate.ts";

/** A wire type as JSON writes it: MessagePack's bytes have no JSON form (JSON uses `{"$base64"}`). */
export type JsonWire<T> = T extends Uint8Array
  ? never
  : T extends readonly (infer E)[]
    ? JsonWire<E>[]
    : T extends object
      ? { [K in keyof T]: JsonWire<T[K]> }
      : T;

/** A validated body and the form it came in (field values and bytes are read differently per form). */
export interface Decoded<T> {
  readonly form: BodyForm;
  readonly body: T;
}

type BodyInput<S extends z.ZodType> = { in: { json: JsonWire<z.input<S>> }; out: { json: Decoded<z.output<S>> } };

/** A JSON or MessagePack body through `schema`; the handler reads it with `c.req.valid("json")`. */
export function validBody<S extends z.ZodType>(schema: S, decoder: BoundedMsgpackDecoder): MiddlewareHandler<Env, string, BodyInput<S>> {
  return async (c, next) => {
    const { form, value } = await readBody(c, decoder);
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new StrataError("BAD_REQUEST", `request body: ${describeIssues(parsed.error.issues)}`);
    const decoded: Decoded<z.output<S>> = { form, body: parsed.data };
    c.req.addValidatedData("json", decoded);
    await next();
  };
}

/** A body that is MessagePack only (PUT /v1/chunks): validated the same way, declared to no client as JSON. */
export function msgpackBody<S extends z.ZodType>(schema: S, decoder: BoundedMsgpackDecoder): MiddlewareHandler<Env, string, { out: { json: Decoded<z.output<S>> } }> {
  const validated = validBody(schema, decoder);
  return async (c, next) => {
    if (requestForm(c) !== "msgpack") {
      throw new StrataError("UNSUPPORTED_MEDIA_TYPE", `${c.req.method} ${c.req.path} takes application/msgpack`);
    }
    return validated(c, next);
  };
}

/** Query or path parameters through `schema` (Hono's validator); failures are BAD_REQUEST naming the parameter. */
export function validParams<T extends "query" | "param", S extends z.ZodType>(target: T, schema: S) {
  return sValidator(target, schema, (result): void => {
    if (!result.success) throw new StrataError("BAD_REQUEST", describeIssues(result.error));
  });
}

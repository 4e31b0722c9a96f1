// Gradient contribution route (docs/gradients.md). Scope (docs/auth.md): publish on the gradient
// stream named in the path, checked before the body is read.
import { Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import type { BoundedMsgpackDecoder } from "../../core/log/msgpack-bounds.ts";
import type { GradientService } from "../gradients/gradient-service.ts";
import { contributionBodySchema, type ContributionAnswer } from "../gradients/gradient-wire.ts";
import { requireScope, type AuthEnv } from "./auth.ts";
import { respond } from "./negotiate.ts";
import { validBody, validParams } from "./validate.ts";

const stepParams = z.object({
  stream: z.string(),
  step: z
    .string()
    .regex(/^\d{1,15}$/, { message: "step must be a non-negative integer" })
    .transform(Number),
});

export function gradientRoutes(gradients: GradientService, limited: MiddlewareHandler, records: BoundedMsgpackDecoder) {
  return new Hono<AuthEnv>()
    .use("/gradients/:stream/steps/:step", requireScope(["publish"], "stream"))
    .post("/gradients/:stream/steps/:step", limited, validParams("param", stepParams), validBody(contributionBodySchema, records), async (c) => {
      const { stream, step } = c.req.valid("param");
      const { form, body } = c.req.valid("json");
      return respond<ContributionAnswer>(c, await gradients.contribute(stream, step, body, form, c.req.header("authorization")));
    });
}

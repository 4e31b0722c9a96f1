// Device and rollout routes (docs/fleet.md). Scopes (docs/auth.md): a device acts on the
// pseudo-stream _strata/devices/{id}: its heartbeat needs publish on it, and the answer names the
// targets only of the pinned streams the token may consume; reading a device or the device list
// needs consume on it (the list shows only the devices the token may read). A rollout needs admin
// on its stream to start, change or roll back, consume on it to read.
import { Hono, type MiddlewareHandler } from "hono";
import type { BoundedMsgpackDecoder } from "../../core/log/msgpack-bounds.ts";
import { authorize, permits } from "../auth/principal.ts";
import type { FleetService } from "../fleet/fleet-service.ts";
import {
  deviceListQuerySchema,
  deviceParamsSchema,
  deviceScopeStream,
  heartbeatBodySchema,
  rolloutParamsSchema,
  setRolloutBodySchema,
  startRolloutBodySchema,
} from "../fleet/fleet-wire.ts";
import type { Action } from "../../core/auth/scopes.ts";
import { principalOf, type AuthEnv } from "./auth.ts";
import { limitBody } from "./body-limit.ts";
import { validBody, validParams } from "./validate.ts";

/** The route's action on the device's pseudo-stream, checked before the body is read. */
function requireDeviceScope(action: Action): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    authorize(principalOf(c), action, deviceScopeStream(c.req.param("id") ?? ""));
    await next();
  };
}

/** The route's action on the rollout's stream (NOT_FOUND first for an unknown rollout). */
function requireRolloutScope(fleet: FleetService, action: Action): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    authorize(principalOf(c), action, fleet.streamOf(c.req.param("id") ?? ""));
    await next();
  };
}

export function fleetRoutes(fleet: FleetService, limited: MiddlewareHandler, records: BoundedMsgpackDecoder) {
  const heartbeatLimit = limitBody(fleet.limits.maxHeartbeatBytes);
  return new Hono<AuthEnv>()
    .post("/devices/:id/heartbeat", heartbeatLimit, validParams("param", deviceParamsSchema), requireDeviceScope("publish"), validBody(heartbeatBodySchema, records), async (c) => {
      const principal = principalOf(c);
      const { id } = c.req.valid("param");
      return c.json(await fleet.heartbeat(id, c.req.valid("json").body, (stream) => permits(principal, "consume", stream)));
    })
    .get("/devices", validParams("query", deviceListQuerySchema), (c) => {
      const principal = principalOf(c);
      const { label, limit } = c.req.valid("query");
      return c.json(fleet.devices(Object.fromEntries(label), limit, (id) => permits(principal, "consume", deviceScopeStream(id))));
    })
    .get("/devices/:id", validParams("param", deviceParamsSchema), requireDeviceScope("consume"), (c) => c.json(fleet.device(c.req.valid("param").id)))
    .post("/rollouts", limited, validBody(startRolloutBodySchema, records), async (c) => {
      const body = c.req.valid("json").body;
      authorize(principalOf(c), "admin", body.stream);
      return c.json(await fleet.start(body), 201);
    })
    .get("/rollouts", (c) => {
      const principal = principalOf(c);
      return c.json({ rollouts: fleet.list((stream) => permits(principal, "consume", stream)) });
    })
    .get("/rollouts/:id", validParams("param", rolloutParamsSchema), requireRolloutScope(fleet, "consume"), (c) => c.json(fleet.info(c.req.valid("param").id)))
    .patch("/rollouts/:id", limited, validParams("param", rolloutParamsSchema), requireRolloutScope(fleet, "admin"), validBody(setRolloutBodySchema, records), async (c) => {
      return c.json(await fleet.setPercent(c.req.valid("param").id, c.req.valid("json").body.percent));
    })
    .post("/rollouts/:id/rollback", validParams("param", rolloutParamsSchema), requireRolloutScope(fleet, "admin"), async (c) => c.json(await fleet.rollback(c.req.valid("param").id)));
}

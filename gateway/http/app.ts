// The HTTP API: one Hono app built from the services. Routes validate their input with zod
// schemas (validate.ts), call a service, and encode the answer in JSON or MessagePack.
import { Hono } from "hono";
import { cors } from "hono/cors";
import { z } from "zod";
import { BoundedMsgpackDecoder } from "../../core/log/msgpack-bounds.ts";
import type { publishBodySchema } from "../../core/log/publish-request.ts";
import type { HttpConfig } from "../config/gateway-config.ts";
import { authorize, authorizeMetrics, permits, type Principal } from "../auth/principal.ts";
import type { GatewayServices } from "../services.ts";
import { createStreamSchema, type StreamInfo } from "../streams/stream-service.ts";
import { artefactRoutes } from "./artefact-routes.ts";
import { artefactDeltaRoutes } from "./artefact-delta-routes.ts";
import { artefactUploadRoutes, isStreamedUpload } from "./artefact-upload-routes.ts";
import { limitBody } from "./body-limit.ts";
import { authenticate, principalOf, requireScope, type AuthEnv } from "./auth.ts";
import { tokenRoutes } from "./token-routes.ts";
import { groupRoutes } from "./group-routes.ts";
import { datasetRoutes } from "./dataset-routes.ts";
import { queueRoutes } from "./queue-routes.ts";
import { latestRoutes } from "./latest-routes.ts";
import { gradientRoutes } from "./gradient-routes.ts";
import { jobRoutes } from "./job-routes.ts";
import { fleetRoutes } from "./fleet-routes.ts";
import { versionRoutes } from "./version-routes.ts";
import { readRoutes } from "./read-routes.ts";
import { publishRoutes } from "./publish-routes.ts";
import { latestReadProxy, partitionReadProxy } from "./cluster-proxy.ts";
import { InFlightBytes, limitInFlight } from "./in-flight.ts";
import { coordinatorProxy } from "./coordinator-proxy.ts";
import { clusterRoutes } from "./cluster-routes.ts";
import { consoleRoutes } from "./console-routes.ts";
import { anomalyRoutes } from "./anomaly-routes.ts";
import { errorResponse, onError } from "./errors.ts";
import { validBody, type JsonWire } from "./validate.ts";
import { observeRequests } from "./request-metrics-middleware.ts";
import { traceSpans } from "./trace-middleware.ts";

/** The JSON shape of a publish request (MessagePack: the same with native bytes). */
export type PublishBody = JsonWire<z.input<typeof publishBodySchema>>;
/** The body of POST /v1/streams. */
export type CreateStreamBody = z.input<typeof createStreamSchema>;

/** A stream is listed and described to whoever may publish to it or consume it. */
function sees(principal: Principal, stream: string): boolean {
  return permits(principal, "consume", stream) || permits(principal, "publish", stream);
}

export function createApp(services: GatewayServices, http: HttpConfig) {
  const { streams, log, metrics, limits } = services;
  const records = new BoundedMsgpackDecoder(http.decoders.records);
  const limited = limitBody(limits.maxRequestBytes);

  // Scopes (docs/auth.md): a stream is created by whoever may publish to it (clients create a
  // missing stream on first write); a group's offsets on a stream belong to whoever may consume it.
  const v1 = new Hono<AuthEnv>()
    .use("/streams/:name", requireScope(["consume", "publish"], "name"))
    .use("/streams/:name/records", requireScope(["publish"], "name"))
    .post("/streams", limited, validBody(createStreamSchema, records), async (c) => {
      const body = c.req.valid("json").body;
      authorize(principalOf(c), "publish", body.name);
      const stream: StreamInfo = await streams.create(body);
      return c.json(stream, 201);
    })
    .get("/streams", async (c) => {
      const principal = principalOf(c);
      return c.json({ streams: (await streams.listInfo()).filter((s) => sees(principal, s.name)) });
    })
    .get("/streams/:name", async (c) => c.json(await streams.info(c.req.param("name"))));

  const base = new Hono<AuthEnv>();
  // The access log and request metrics, in one middleware (docs/logging.md, docs/metrics.md).
  const observing = observeRequests({ accessLog: services.observability.accessLog, metrics: services.requestMetrics });
  if (observing !== undefined) base.use(observing);
  if (services.tracing !== undefined) base.use(traceSpans(services.tracing)); // docs/tracing.md
  const inFlight = limitInFlight(new InFlightBytes(limits.maxRequestBytesInFlight));
  base.use("/v1/*", (c, next) => (isStreamedUpload(c) ? next() : inFlight(c, next)));
  if (http.corsOrigins.length > 0) {
    base.use("*", cors({ origin: [...http.corsOrigins], allowMethods: ["GET", "HEAD", "POST", "PUT", "DELETE"], exposeHeaders: ["Content-Length", "Content-Range", "ETag", "WWW-Authenticate"], maxAge: 600 }));
  }
  // Every route but /healthz acts as the request's bearer token (after CORS: preflights carry none).
  base.use("/v1/*", authenticate(services.auth));
  // Cluster mode: groups, queues, datasets, jobs, gradients and the fleet run on the coordinator.
  if (services.coordination !== undefined) base.use("/v1/*", coordinatorProxy(services.coordination));
  // Cluster mode: a compacted stream's latest records are read where its partitions are led.
  if (log.routing !== undefined) base.use("/v1/streams/:name/latest", latestReadProxy(log.routing, streams));
  base.use("/metrics", authenticate(services.auth));
  const app = base
    .get("/healthz", (c) => c.json({ status: "ok" as const }))
    .get("/metrics", async (c) => {
      authorizeMetrics(principalOf(c));
      return c.text(await metrics.registry.render(), 200, { "content-type": metrics.registry.contentType });
    })
    .route("/v1", v1)
    .route("/v1", publishRoutes(services, limited, records))
    .route("/v1", readRoutes(log, metrics, log.routing && partitionReadProxy(log.routing, streams)))
    .route("/v1", tokenRoutes(services.auth, limited, records))
    .route("/v1", groupRoutes(services.groups, limited, records))
    .route("/v1", datasetRoutes(services.datasets, metrics, limited, records))
    .route("/v1", queueRoutes(services.queues, limited, records))
    .route("/v1", gradientRoutes(services.gradients, limited, records))
    .route("/v1", jobRoutes(services.jobs, limited, records))
    .route("/v1", fleetRoutes(services.fleet, limited, records))
    .route("/v1", versionRoutes(services.versions))
    .route("/v1", latestRoutes(services.latest, services.compactor, limited, records))
    .route("/v1", artefactRoutes(services.artefacts, http))
    .route("/v1", artefactDeltaRoutes(services.artefacts)) // before the raw upload: POST /artefacts with ?basis=
    .route("/v1", artefactUploadRoutes(services.artefacts))
    .route("/v1", clusterRoutes(services.cluster))
    .route("/console", consoleRoutes())
    .route("/v1", anomalyRoutes(services.anomalies));
  app.notFound((c) => errorResponse(c, "NOT_FOUND", `no route ${c.req.method} ${c.req.path}`, 404));
  app.onError(onError);
  return app;
}

export type AppType = ReturnType<typeof createApp>;

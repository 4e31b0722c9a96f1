// The fleet API's shapes (docs/fleet.md): device heartbeats, the device list, rollouts. Zod schemas
// are the one source of the request types and validate the answers on the client side. Imports
// only zod and core: the client library (gateway/client/fleet-*.ts) and the edge read it.
import { z } from "zod";
import { isValidStreamName } from "../../core/log/stream-name.ts";

/** A device id: chosen by the device (`--device-id`) or derived from its producer identity. */
export const deviceIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, { message: "a device id is 1-128 of A-Z a-z 0-9 . _ - (not starting with . _ -)" });
export const rolloutIdSchema = z.string().regex(/^r-[0-9a-f]{16}$/, { message: "a rollout id is r- and 16 lowercase hex digits" });
export const manifestIdSchema = z.string().regex(/^[0-9a-f]{64}$/, { message: "artefact must be a manifest id: 64 lowercase hex characters" });
const streamSchema = z.string().refine(isValidStreamName, { message: "not a stream name" });
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

const labelKey = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, { message: "a label key is A-Z a-z 0-9 . _ / - (not starting with . _ / -)" });
const labelValue = z.string().regex(/^[A-Za-z0-9._/-]*$/, { message: "a label value is A-Z a-z 0-9 . _ / -" });
/** Labels of a device, or the selector of a rollout (every pair must match). Sizes: fleet limits. */
export const labelsSchema = z.record(labelKey, labelValue);
export type Labels = z.output<typeof labelsSchema>;

/** `k=v`, as `?label=` and `--label` spell one label. */
export const labelPairSchema = z.string().transform((text, ctx) => {
  const eq = text.indexOf("=");
  const key = labelKey.safeParse(text.slice(0, Math.max(0, eq)));
  const value = labelValue.safeParse(text.slice(eq + 1));
  if (eq <= 0 || !key.success || !value.success) {
    ctx.issues.push({ code: "custom", message: `a label is KEY=VALUE (A-Z a-z 0-9 . _ / -), got ${JSON.stringify(text)}`, input: text });
    return z.NEVER;
  }
  return [key.data, value.data] as const;
});

/** Where a device failed to install an artefact. */
export const FAILURE_STAGES = ["download", "verify", "callback"] as const;
export const deviceErrorSchema = z.strictObject({
  stream: streamSchema,
  artefact: manifestIdSchema,
  stage: z.enum(FAILURE_STAGES),
  message: z.string(),
});
export type DeviceError = z.output<typeof deviceErrorSchema>;

/** POST /v1/devices/{id}/heartbeat. `pins`: the artefact each pinned stream's file holds (null before its first pull). */
export const heartbeatBodySchema = z.strictObject({
  labels: labelsSchema,
  pins: z.record(streamSchema, manifestIdSchema.nullable()),
  outbox_records: count,
  transport: z.string().max(64),
  version: z.string().max(64),
  errors: z.array(deviceErrorSchema).optional(),
});
export type HeartbeatBody = z.input<typeof heartbeatBodySchema>;
export type Heartbeat = z.output<typeof heartbeatBodySchema>;

/**
 * What a pinned stream under a rollout should hold on this device: `artefact` (null: keep what it
 * has). A stream without a rollout is absent and its pin follows the stream's newest artefact.
 */
export const pinTargetSchema = z.object({ artefact: manifestIdSchema.nullable(), rollout: rolloutIdSchema });
export type PinTarget = z.output<typeof pinTargetSchema>;
export const heartbeatAnswerSchema = z.object({ device: deviceIdSchema, targets: z.record(z.string(), pinTargetSchema) });
export type HeartbeatAnswer = z.output<typeof heartbeatAnswerSchema>;

export const deviceInfoSchema = z.object({
  id: deviceIdSchema,
  labels: labelsSchema,
  pins: z.record(z.string(), manifestIdSchema.nullable()),
  outbox_records: count,
  transport: z.string(),
  version: z.string(),
  errors: z.array(deviceErrorSchema),
  first_seen: count,
  last_seen: count,
});
export type DeviceInfo = z.output<typeof deviceInfoSchema>;
export const deviceListSchema = z.object({ devices: z.array(deviceInfoSchema), truncated: z.boolean() });
export type DeviceList = z.output<typeof deviceListSchema>;

export const deviceParamsSchema = z.object({ id: deviceIdSchema });
export const deviceListQuerySchema = z.object({
  /** `?label=k=v`, repeatable: devices carrying every pair. */
  label: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .transform((v) => (v === undefined ? [] : typeof v === "string" ? [v] : v))
    .pipe(z.array(labelPairSchema)),
  limit: z.string().regex(/^\d{1,9}$/, { message: "limit must be a positive integer" }).transform(Number).optional(),
});

/** A percentage of devices, to 0.01. */
const percentSchema = z
  .number({ message: "percent must be a number from 0 to 100" })
  .min(0, { message: "percent must be from 0 to 100" })
  .max(100, { message: "percent must be from 0 to 100" })
  .refine((p) => Math.abs(p * 100 - Math.round(p * 100)) < 1e-6, { message: "percent has at most two decimals" });

/** POST /v1/rollouts. `percent` defaults to 100; `previous` to the stream's baseline (docs/fleet.md). */
export const startRolloutBodySchema = z.strictObject({
  stream: streamSchema,
  artefact: manifestIdSchema,
  percent: percentSchema.optional(),
  labels: labelsSchema.optional(),
  max_failure_percent: z.number().int({ message: "max_failure_percent must be a whole percent from 0 to 100" }).min(0).max(100).optional(),
  previous: manifestIdSchema.optional(),
});
export type StartRolloutBody = z.input<typeof startRolloutBodySchema>;
export type StartRollout = z.output<typeof startRolloutBodySchema>;

/** PATCH /v1/rollouts/{id} */
export const setRolloutBodySchema = z.strictObject({ percent: percentSchema });
export type SetRolloutBody = z.input<typeof setRolloutBodySchema>;
export const rolloutParamsSchema = z.object({ id: rolloutIdSchema });

export const ROLLOUT_STATES = ["active", "paused", "completed", "rolled-back"] as const;
export type RolloutStateName = (typeof ROLLOUT_STATES)[number];

export const rolloutInfoSchema = z.object({
  id: rolloutIdSchema,
  stream: z.string(),
  artefact: manifestIdSchema,
  previous: manifestIdSchema.nullable(),
  percent: z.number(),
  labels: labelsSchema,
  max_failure_percent: z.number().nullable(),
  state: z.enum(ROLLOUT_STATES),
  /** Why a rollout paused itself; null otherwise. */
  reason: z.string().nullable(),
  created: count,
  updated: count,
  /** Devices pinning the stream that match the labels: how many the percentage selects, and what they run. */
  devices: z.object({ matching: count, selected: count, target: count, previous: count, other: count, failed: count }),
});
export type RolloutInfo = z.output<typeof rolloutInfoSchema>;
export const rolloutListSchema = z.object({ rollouts: z.array(rolloutInfoSchema) });

/** The pseudo-stream a device's heartbeat authorises against: publish on it (docs/fleet.md). */
export function deviceScopeStream(id: string): string {
  return `_strata/devices/${id}`;
}

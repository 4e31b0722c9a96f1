// The consumer-group protocol's requests and answers, from any transport (HTTP routes, QUIC
// frames, the typed client): the one source of their shapes. docs/groups.md describes the protocol.
import { z } from "zod";

/** Group names, member ids and static instance ids: what a URL path segment carries unescaped. */
export const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;
export const MEMBER_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;

const epoch = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * A member's heartbeat: joins (no epoch, or 0), keeps the session, changes the subscription, and
 * acknowledges the previous answer (carrying the epoch it received). Bounds on the number of
 * streams and on the session timeout are the service's limits, not the schema's.
 */
export const heartbeatRequestSchema = z.object({
  member: z.string().regex(MEMBER_ID, { message: `member must match ${MEMBER_ID.source}` }),
  streams: z.array(z.string().min(1)).min(1, { message: "streams must name at least one stream" }),
  member_epoch: epoch.nullish(),
  /** A static member's instance id: a restart with a new member id takes the old one's place. */
  instance: z.string().regex(MEMBER_ID, { message: `instance must match ${MEMBER_ID.source}` }).nullish(),
  session_timeout_ms: z.number().int().positive().nullish(),
});

export type HeartbeatRequest = z.input<typeof heartbeatRequestSchema>;

export const topicPartitionSchema = z.object({ stream: z.string(), partition: z.number().int().min(0) });

export type TopicPartition = z.output<typeof topicPartitionSchema>;

export const heartbeatResponseSchema = z.object({
  /** Carry it in the next heartbeat and in commits. */
  member_epoch: z.number().int(),
  /** The partitions the member owns now; one missing since the last answer is revoked: stop it before the next heartbeat. */
  assignment: z.array(topicPartitionSchema),
  heartbeat_interval_ms: z.number().int(),
});

export type HeartbeatResponse = z.output<typeof heartbeatResponseSchema>;

/**
 * A commit: the plain form (stream, partition, offset) for a group without members, plus the
 * committing member and its epoch when the group has members. Ranges are the service's.
 */
export const commitOffsetSchema = z.object({
  stream: z.string(),
  /** 0 by default. */
  partition: z.number().nullish(),
  offset: z.number(),
  member: z.string().nullish(),
  member_epoch: z.number().int().nullish(),
});

export type CommitInput = z.input<typeof commitOffsetSchema>;

export const committedOffsetSchema = z.object({ stream: z.string(), partition: z.number().int(), offset: z.number().int(), updated_at: z.number() });

export type CommittedOffset = z.output<typeof committedOffsetSchema>;

export const memberStateKinds = ["stable", "unrevoked-partitions", "unreleased-partitions"] as const;
export type MemberStateKind = (typeof memberStateKinds)[number];

/** A member as GET /v1/groups/{group} answers it (clients validate answers with these schemas). */
export const memberDescriptionSchema = z.object({
  member: z.string(),
  instance: z.string().nullable(),
  /** Milliseconds since the epoch of the last heartbeat (the gateway's start for sessions it restored). */
  last_heartbeat: z.number(),
  member_epoch: z.number().int(),
  state: z.enum(memberStateKinds),
  streams: z.array(z.string()),
  session_timeout_ms: z.number().int(),
  assignment: z.array(topicPartitionSchema),
  /** Partitions revoked from the member that it has not yet acknowledged. */
  revoking: z.array(topicPartitionSchema),
});

export type MemberDescription = z.output<typeof memberDescriptionSchema>;

export const partitionLagSchema = z.object({
  stream: z.string(),
  partition: z.number().int(),
  /** The group's committed offset; null when it committed none (lag is then counted from the partition's start offset). */
  committed: z.number().int().nullable(),
  end_offset: z.number().int(),
  lag: z.number().int(),
});

export type PartitionLag = z.output<typeof partitionLagSchema>;

export const groupDescriptionSchema = z.object({
  group: z.string(),
  /** Bumped by every change of membership or subscription; the target assignment is always computed at it. */
  group_epoch: z.number().int(),
  members: z.array(memberDescriptionSchema),
  partitions: z.array(partitionLagSchema),
});

export type GroupDescription = z.output<typeof groupDescriptionSchema>;

export const groupSummarySchema = z.object({ group: z.string(), group_epoch: z.number().int(), members: z.number().int(), streams: z.array(z.string()) });

export type GroupSummary = z.output<typeof groupSummarySchema>;

export const groupListSchema = z.object({ groups: z.array(groupSummarySchema) });

export type GroupList = z.output<typeof groupListSchema>;

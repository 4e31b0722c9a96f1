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

export interface TopicPartition {
  readonly stream: string;
  readonly partition: number;
}

export const topicPartitionSchema = z.object({ stream: z.string(), partition: z.number().int().min(0) });

export const heartbeatResponseSchema = z.object({
  member_epoch: z.number().int(),
  assignment: z.array(topicPartitionSchema),
  heartbeat_interval_ms: z.number().int(),
});

export interface HeartbeatResponse {
  /** Carry it in the next heartbeat and in commits. */
  readonly member_epoch: number;
  /** The partitions the member owns now; one missing since the last answer is revoked: stop it before the next heartbeat. */
  readonly assignment: TopicPartition[];
  readonly heartbeat_interval_ms: number;
}

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

export interface CommittedOffset {
  readonly stream: string;
  readonly partition: number;
  readonly offset: number;
  readonly updated_at: number;
}

export type MemberStateKind = "stable" | "unrevoked-partitions" | "unreleased-partitions";

export interface MemberDescription {
  readonly member: string;
  readonly instance: string | null;
  /** Milliseconds since the epoch of the last heartbeat (the gateway's start for sessions it restored). */
  readonly last_heartbeat: number;
  readonly member_epoch: number;
  readonly state: MemberStateKind;
  readonly streams: string[];
  readonly session_timeout_ms: number;
  readonly assignment: TopicPartition[];
  /** Partitions revoked from the member that it has not yet acknowledged. */
  readonly revoking: TopicPartition[];
}

export interface PartitionLag {
  readonly stream: string;
  readonly partition: number;
  /** The group's committed offset; null when it committed none (lag is then counted from the partition's start offset). */
  readonly committed: number | null;
  readonly end_offset: number;
  readonly lag: number;
}

export interface GroupDescription {
  readonly group: string;
  /** Bumped by every change of membership or subscription; the target assignment is always computed at it. */
  readonly group_epoch: number;
  readonly members: MemberDescription[];
  readonly partitions: PartitionLag[];
}

export interface GroupSummary {
  readonly group: string;
  readonly group_epoch: number;
  readonly members: number;
  readonly streams: string[];
}

export interface GroupList {
  readonly groups: GroupSummary[];
}

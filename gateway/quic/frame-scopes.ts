// What each QUIC request needs of its token, the same as its HTTP route: publish and commit as
// POST /v1/streams/{name}/records and POST /v1/groups/{group}/offsets, fetch as the partition
// read, latest as GET /v1/streams/{name}/latest, the chunk and manifest frames as the artefact routes (allowed to publish, or to consume,
// on at least one stream), heartbeat and leave as their group routes. FORBIDDEN names what was missing.
import type { Action } from "../../core/auth/scopes.ts";
import type { BulkRequest, ControlRequest } from "../../core/quic/messages.ts";
import { StrataError } from "../../core/errors.ts";
import { authorizeAny, type Principal } from "../auth/principal.ts";

/** The actions of which any one allows a request, and its stream (none: on any stream). */
interface Requirement {
  readonly actions: readonly [Action, ...Action[]];
  readonly stream?: string;
}

/** The streams a group member subscribes to (a leave is authorized on them, as over HTTP). */
export interface MemberStreams {
  memberStreams(group: string, member: string): readonly string[];
}

function requirementOf(request: Exclude<ControlRequest, { t: "heartbeat" | "leave" }> | BulkRequest): Requirement {
  switch (request.t) {
    case "publish":
      return { actions: ["publish"], stream: request.stream };
    // A stream is created by whoever may publish to it (clients create a missing stream on
    // their first write), and described to anyone who may publish to it or consume it.
    case "stream-create":
      return { actions: ["publish"], stream: request.name };
    case "stream-info":
      return { actions: ["consume", "publish"], stream: request.stream };
    case "fetch":
    case "latest":
      return { actions: ["consume"], stream: request.stream };
    // A group's offsets on a stream are committed by whoever may consume that stream.
    case "commit":
      return { actions: ["consume"], stream: request.stream };
    case "chunks-missing":
    case "chunks-put":
      return { actions: ["publish"] };
    case "chunks-get":
    case "manifest-get":
      return { actions: ["consume"] };
  }
}

/**
 * Throws FORBIDDEN unless the principal's scopes allow the request. A heartbeat needs consume on
 * every stream it subscribes to, a leave consume on every stream of that member (`groups`).
 */
export function authorizeRequest(principal: Principal, request: ControlRequest | BulkRequest, groups?: MemberStreams): void {
  if (request.t === "heartbeat" || request.t === "leave") {
    let streams: readonly string[];
    if (request.t === "heartbeat") streams = request.streams;
    else if (groups === undefined) throw new StrataError("INTERNAL", "a leave frame is authorized with the group service");
    else streams = groups.memberStreams(request.group, request.member);
    for (const stream of streams) authorizeAny(principal, ["consume"], stream);
    return;
  }
  const { actions, stream } = requirementOf(request);
  authorizeAny(principal, actions, stream);
}

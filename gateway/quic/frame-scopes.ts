// What each QUIC request needs of its token, the same as its HTTP route: publish and commit as
// POST /v1/streams/{name}/records and POST /v1/groups/{group}/offsets, fetch as the partition
// read, the chunk and manifest frames as the artefact routes (allowed to publish, or to consume,
// on at least one stream). FORBIDDEN names what was missing.
import type { Action } from "../../core/auth/scopes.ts";
import type { BulkRequest, ControlRequest } from "../../core/quic/messages.ts";
import { authorizeAny, type Principal } from "../auth/principal.ts";

/** The actions of which any one allows a request, and its stream (none: on any stream). */
interface Requirement {
  readonly actions: readonly [Action, ...Action[]];
  readonly stream?: string;
}

function requirementOf(request: ControlRequest | BulkRequest): Requirement {
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

/** Throws FORBIDDEN unless the principal's scopes allow the request. */
export function authorizeRequest(principal: Principal, request: ControlRequest | BulkRequest): void {
  const { actions, stream } = requirementOf(request);
  authorizeAny(principal, actions, stream);
}

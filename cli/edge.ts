// `strata edge publish|run|status`: an edge node's offline-first outbox, its sync loop, its state.
import type { Command } from "commander";
import { registerEdgePublish } from "./edge-publish.ts";
import { registerEdgeRun } from "./edge-run.ts";
import { registerEdgeStatus } from "./edge-status.ts";

export function registerEdge(program: Command): void {
  const edge = program
    .command("edge")
    .summary("an edge node: offline-first outbox, sync loop, pinned artefacts")
    .description("An edge node with its data in a local directory: publish into its outbox (works offline), sync it with a gateway, show its state.");
  registerEdgePublish(edge);
  registerEdgeRun(edge);
  registerEdgeStatus(edge);
}

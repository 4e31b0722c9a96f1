// README's limits section, generated from the limit declarations (their one home): every family
// with its defaults, units, ranges and meanings, and the checks made between them at start.
//   bun scripts/limits-table.ts           prints the section
//   bun scripts/limits-table.ts --write   rewrites it in README.md between the markers
//   bun scripts/limits-table.ts --check   exits 1 when README.md differs from it
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { formatLimit, formatRange, type LimitFamily, type LimitSpecs } from "../core/util/limit-spec.ts";
import { TRANSFER_LIMITS } from "../edge/artefacts/transfer-limits.ts";
import { FAILOVER_LIMITS } from "../core/client/failover-limits.ts";
import { EDGE_LIMITS } from "../edge/limits.ts";
import { ARTEFACT_LIMITS } from "../gateway/artefacts/artefact-limits.ts";
import { STORAGE_LIMITS } from "../gateway/log/storage-limits.ts";
import { QUIC_LIMITS } from "../gateway/quic/quic-limits.ts";
import { SERVICE_LIMITS } from "../gateway/streams/service-limits.ts";
import { FILTER_LIMITS } from "../gateway/filters/filter-limits.ts";
import { GROUP_LIMITS } from "../gateway/consumers/group-limits.ts";
import { QUEUE_LIMITS } from "../gateway/queues/queue-limits.ts";
import { DATASET_LIMITS } from "../gateway/datasets/dataset-limits.ts";
import { GRADIENT_LIMITS } from "../gateway/gradients/gradient-limits.ts";
import { JOB_LIMITS } from "../gateway/jobs/job-limits.ts";
import { FLEET_LIMITS } from "../gateway/fleet/fleet-limits.ts";
import { CLUSTER_LIMITS } from "../gateway/cluster/cluster-limits.ts";
import { INTAKE_LIMITS } from "../gateway/log/intake-limits.ts";
import { VERSION_LIMITS } from "../gateway/streams/versions-limits.ts";
import { EGRESS_LIMITS } from "../gateway/artefacts/egress-limiter.ts";
import { COMPACTION_LIMITS } from "../gateway/log/compaction-limits.ts";
import { UCX_LIMITS } from "../gateway/ucx/ucx-limits.ts";
import { ANOMALY_LIMITS } from "../gateway/observability/anomaly-limits.ts";
import { METRICS_LIMITS } from "../gateway/observability/metrics-limits.ts";

export const LIMITS_BEGIN = "<!-- limits:begin -->";
export const LIMITS_END = "<!-- limits:end -->";

interface Section {
  readonly title: string;
  readonly source: string;
  readonly family: LimitFamily<LimitSpecs>;
}

const GATEWAY: readonly Section[] = [
  { title: "`limits`: requests, records, streams and reads", source: "gateway/streams/service-limits.ts", family: SERVICE_LIMITS },
  { title: "`storage`: WAL, segments and caches of the log (per partition unless noted)", source: "gateway/log/storage-limits.ts", family: STORAGE_LIMITS },
  { title: "`artefacts`: chunk store, manifests, caches and GC", source: "gateway/artefacts/artefact-limits.ts", family: ARTEFACT_LIMITS },
  { title: "`quic`: the QUIC transport", source: "gateway/quic/quic-limits.ts", family: QUIC_LIMITS },
  { title: "`filters`: CEL record filters", source: "gateway/filters/filter-limits.ts", family: FILTER_LIMITS },
  { title: "`groups`: the consumer-group coordinator", source: "gateway/consumers/group-limits.ts", family: GROUP_LIMITS },
  { title: "`queues`: work queues", source: "gateway/queues/queue-limits.ts", family: QUEUE_LIMITS },
  { title: "`datasets`: dataset versions and sample reads", source: "gateway/datasets/dataset-limits.ts", family: DATASET_LIMITS },
  { title: "`gradients`: gradient contributions", source: "gateway/gradients/gradient-limits.ts", family: GRADIENT_LIMITS },
  { title: "`jobs`: training jobs and checkpoints", source: "gateway/jobs/job-limits.ts", family: JOB_LIMITS },
  { title: "`fleet`: devices and staged rollouts", source: "gateway/fleet/fleet-limits.ts", family: FLEET_LIMITS },
  { title: "`cluster`: leases, rebalancing and forwarding (docs/cluster.md)", source: "gateway/cluster/cluster-limits.ts", family: CLUSTER_LIMITS },
  { title: "`intake`: the intake objects of cluster mode (docs/cluster.md)", source: "gateway/log/intake-limits.ts", family: INTAKE_LIMITS },
  { title: "`versions`: artefact version listings", source: "gateway/streams/versions-limits.ts", family: VERSION_LIMITS },
  { title: "`egress`: the gateway-wide limit of artefact downloads", source: "gateway/artefacts/egress-limiter.ts", family: EGRESS_LIMITS },
  { title: "`compaction`: compacted streams and their latest-per-key index", source: "gateway/log/compaction-limits.ts", family: COMPACTION_LIMITS },
  { title: "`ucx`: the native UCX transport (`--ucx-port`)", source: "gateway/ucx/ucx-limits.ts", family: UCX_LIMITS },
  { title: "`anomalies`: the anomaly flags of streams, groups and queues (docs/anomalies.md)", source: "gateway/observability/anomaly-limits.ts", family: ANOMALY_LIMITS },
  { title: "`metrics`: the work of one /metrics scrape (docs/metrics.md)", source: "gateway/observability/metrics-limits.ts", family: METRICS_LIMITS },
];

const EDGE: readonly Section[] = [
  { title: "`openEdge({ limits })`: the edge node", source: "edge/limits.ts", family: EDGE_LIMITS },
  { title: "`pushArtefact` / `pullArtefact` `limits` (and `strata push` / `pull`)", source: "edge/artefacts/transfer-limits.ts", family: TRANSFER_LIMITS },
  { title: "`failover`: retries of a client across its gateway URLs (docs/clients.md)", source: "core/client/failover-limits.ts", family: FAILOVER_LIMITS },
];

const CHECKS = [
  "`limits.maxFetchBytes` is also the storage engine's read bound; a different `storage.maxFetchBytes` fails start-up.",
  "A record must fit a request, a batch and a QUIC frame: `limits.maxRecordBytes` ≤ `limits.maxRequestBytes`; + 64 (batch header) ≤ `storage.maxBatchBytes`; + 1 KiB (frame envelope) ≤ `quic.maxFrameBytes`.",
  "A chunk must fit a QUIC frame: `artefacts.maxChunkBytes` + 1 KiB ≤ `quic.maxFrameBytes`.",
  "`artefacts.packMaxBytes` and `artefacts.maxChunkRequestBytes` ≥ `artefacts.maxChunkBytes`; `artefacts.maxPendingPackBytes` ≥ `artefacts.maxChunkRequestBytes`; `artefacts.maxHashRequestBytes` holds `maxHashesPerRequest` hex hashes in JSON.",
  "The storage engine's own: `segmentBytes` ≥ `maxBatchBytes`, `segmentBytes` + `maxBatchBytes` < 4 GiB, `groupCommitMaxBytes` ≥ `groupCommitBytes`, `maxPendingBytes` ≥ `maxBatchBytes`, `maxUnuploadedBytes` ≥ `segmentBytes`.",
];

const DERIVED = [
  "The HTTP server's body cap sits above the largest route limit (`limits.maxRequestBytes`, `artefacts.maxHashRequestBytes`, `artefacts.maxChunkRequestBytes`, `artefacts.maxManifestBytes`); its idle timeout is `limits.maxWaitMs` + 30 s.",
  "MessagePack decoders take their caps from the byte limit of what they decode (no string, bin or extension longer than it, no more array elements than its bytes, half as many map entries) and a depth of 36 (32 levels of field values inside a record's envelope); a length a header claims beyond the bytes that follow is refused before anything is allocated.",
];

function table(section: Section): string {
  const rows = Object.entries(section.family.specs).map(
    ([key, spec]) => `| \`${key}\` | ${formatLimit(spec.default, spec.unit)} | ${formatRange(spec)} | ${spec.doc} |`,
  );
  return [`#### ${section.title}`, "", `Declared in \`${section.source}\`.`, "", "| key | default | allowed | meaning |", "| --- | --- | --- | --- |", ...rows].join("\n");
}

/** The generated section, without its markers. */
export function renderLimitsSection(): string {
  return [
    "Every limit is declared once, with its default, unit, allowed range and meaning; the tables below",
    "are generated from those declarations (`npm run limits:table`). `openGateway(config)` takes the",
    "gateway's families as `config.limits`, `config.storage`, `config.artefacts` and `config.quic`,",
    "validates all of them at start, and refuses an unknown key or a value out of range with a",
    "message naming the key, the value and the allowed range. `strata serve --config FILE` takes the",
    "same keys from a JSON file (e.g. `{\"limits\": {\"maxRecordBytes\": 1048576}}`), checked the same way.",
    "",
    "### Gateway",
    "",
    ...GATEWAY.flatMap((s) => [table(s), ""]),
    "Checked between families at start:",
    "",
    ...CHECKS.map((c) => `- ${c}`),
    "",
    "Derived, not configured:",
    "",
    ...DERIVED.map((d) => `- ${d}`),
    "",
    "### Edge",
    "",
    ...EDGE.flatMap((s) => [table(s), ""]),
  ]
    .join("\n")
    .trimEnd();
}

/** README's text with the section between the markers replaced. */
export function withLimitsSection(readme: string, section: string): string {
  const begin = readme.indexOf(LIMITS_BEGIN);
  const end = readme.indexOf(LIMITS_END);
  if (begin < 0 || end < begin) throw new Error(`README.md has no ${LIMITS_BEGIN} ... ${LIMITS_END} section`);
  return `${readme.slice(0, begin + LIMITS_BEGIN.length)}\n${section}\n${readme.slice(end)}`;
}

export const README_PATH = fileURLToPath(new URL("../README.md", import.meta.url));

if (import.meta.main) {
  const section = renderLimitsSection();
  const mode = process.argv[2];
  if (mode === "--write" || mode === "--check") {
    const readme = readFileSync(README_PATH, "utf8");
    const wanted = withLimitsSection(readme, section);
    if (mode === "--write") {
      if (wanted !== readme) writeFileSync(README_PATH, wanted);
    } else if (wanted !== readme) {
      process.stderr.write("README.md's limits section differs from the limit declarations; run npm run limits:table\n");
      process.exit(1);
    }
  } else {
    process.stdout.write(`${section}\n`);
  }
}

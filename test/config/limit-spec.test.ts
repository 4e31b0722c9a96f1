// A limits family: defaults, ranges per unit, unknown keys, and messages that name the key, the
// value and the allowed range. Every family of the gateway and the edge is walked end to end.
import { describe, expect, test } from "bun:test";
import { StrataError } from "../../core/errors.ts";
import { defineLimits, formatLimit, type LimitFamily, type LimitSpecs } from "../../core/util/limit-spec.ts";
import { TRANSFER_LIMITS } from "../../edge/artefacts/transfer-limits.ts";
import { FAILOVER_LIMITS } from "../../core/client/failover-limits.ts";
import { EDGE_LIMITS } from "../../edge/limits.ts";
import { ARTEFACT_LIMITS } from "../../gateway/artefacts/artefact-limits.ts";
import { STORAGE_LIMITS } from "../../gateway/log/storage-limits.ts";
import { QUIC_LIMITS } from "../../gateway/quic/quic-limits.ts";
import { SERVICE_LIMITS } from "../../gateway/streams/service-limits.ts";
import { FILTER_LIMITS } from "../../gateway/filters/filter-limits.ts";
import { GROUP_LIMITS } from "../../gateway/consumers/group-limits.ts";
import { QUEUE_LIMITS } from "../../gateway/queues/queue-limits.ts";
import { DATASET_LIMITS } from "../../gateway/datasets/dataset-limits.ts";
import { GRADIENT_LIMITS } from "../../gateway/gradients/gradient-limits.ts";
import { JOB_LIMITS } from "../../gateway/jobs/job-limits.ts";
import { FLEET_LIMITS } from "../../gateway/fleet/fleet-limits.ts";
import { VERSION_LIMITS } from "../../gateway/streams/versions-limits.ts";
import { EGRESS_LIMITS } from "../../gateway/artefacts/egress-limiter.ts";
import { COMPACTION_LIMITS } from "../../gateway/log/compaction-limits.ts";
import { UCX_LIMITS } from "../../gateway/ucx/ucx-limits.ts";
import { METRICS_LIMITS } from "../../gateway/observability/metrics-limits.ts";

const FAMILIES: readonly LimitFamily<LimitSpecs>[] = [SERVICE_LIMITS, STORAGE_LIMITS, ARTEFACT_LIMITS, QUIC_LIMITS, FILTER_LIMITS, GROUP_LIMITS, QUEUE_LIMITS, DATASET_LIMITS, GRADIENT_LIMITS, JOB_LIMITS, FLEET_LIMITS, VERSION_LIMITS, EGRESS_LIMITS, COMPACTION_LIMITS, UCX_LIMITS, METRICS_LIMITS, EDGE_LIMITS, TRANSFER_LIMITS, FAILOVER_LIMITS];

function failure(run: () => unknown): StrataError {
  try {
    run();
  } catch (e) {
    if (e instanceof StrataError) return e;
    throw e;
  }
  throw new Error("expected a StrataError");
}

describe("formatLimit", () => {
  test("bytes, durations, counts and fractions as people write them", () => {
    expect(formatLimit(64 * 1024 * 1024, "bytes")).toBe("64 MiB");
    expect(formatLimit(1536, "bytes")).toBe("1,536 B");
    expect(formatLimit(0, "bytes")).toBe("0");
    expect(formatLimit(600_000, "ms")).toBe("10 min");
    expect(formatLimit(2_592_000_000, "ms")).toBe("30 d");
    expect(formatLimit(25, "ms")).toBe("25 ms");
    expect(formatLimit(1_048_576, "count")).toBe("1,048,576");
    expect(formatLimit(0.2, "fraction")).toBe("0.2");
  });
});

describe("defineLimits", () => {
  const family = defineLimits("demo", {
    sizeBytes: { default: 4096, unit: "bytes", min: 1024, max: 1 << 20, doc: "a size" },
    share: { default: 0.5, unit: "fraction", min: 0, max: 1, doc: "a share" },
  });

  test("defaults, overrides, and undefined meaning the default", () => {
    expect(family.resolve()).toEqual({ sizeBytes: 4096, share: 0.5 });
    expect(family.resolve({ sizeBytes: 2048, share: undefined })).toEqual({ sizeBytes: 2048, share: 0.5 });
    expect(Object.isFrozen(family.resolve())).toBe(true);
  });

  test("out of range, not an integer, not a number, unknown: each named with its value and range", () => {
    expect(failure(() => family.resolve({ sizeBytes: 100 })).message).toBe("demo.sizeBytes = 100 is out of range: an integer number of bytes in [1 KiB, 1 MiB]");
    expect(failure(() => family.resolve({ sizeBytes: 2048.5 })).message).toContain("demo.sizeBytes = 2048.5 is out of range");
    expect(failure(() => family.resolve({ share: 1.5 })).message).toBe("demo.share = 1.5 is out of range: a number in [0, 1]");
    expect(failure(() => family.resolve(JSON.parse('{"sizeBytes": "4 KiB"}'))).message).toBe('demo.sizeBytes = "4 KiB" is out of range: an integer number of bytes in [1 KiB, 1 MiB]');
    expect(failure(() => family.resolve(JSON.parse('{"sizeByte": 2048}'))).message).toBe("demo.sizeByte is not a known limit");
    expect(failure(() => family.resolve({ sizeBytes: 100 })).code).toBe("BAD_REQUEST");
  });

  test("a default outside its own range is a bug caught at declaration", () => {
    expect(() => defineLimits("broken", { x: { default: 0, unit: "count", min: 1, max: 2, doc: "" } })).toThrow(/outside/);
  });
});

describe("every family of the gateway and the edge", () => {
  for (const family of FAMILIES) {
    test(`${family.name} (${Object.keys(family.specs).slice(0, 2).join(", ")}, ...): defaults in range, both ends accepted, one past each end refused by name`, () => {
      expect(family.resolve()).toEqual(family.defaults);
      for (const [key, spec] of Object.entries(family.specs)) {
        expect(spec.min).toBeLessThanOrEqual(spec.default);
        expect(spec.default).toBeLessThanOrEqual(spec.max);
        expect(family.resolve({ [key]: spec.min })[key]).toBe(spec.min);
        expect(family.resolve({ [key]: spec.max })[key]).toBe(spec.max);
        const step = spec.unit === "fraction" ? 0.001 : 1;
        for (const bad of [spec.min - step, spec.max + step]) {
          const error = failure(() => family.resolve({ [key]: bad }));
          expect(error.message).toContain(`${family.name}.${key} = ${bad} is out of range`);
          expect(error.message).toContain(formatLimit(spec.min, spec.unit));
          expect(error.message).toContain(formatLimit(spec.max, spec.unit));
        }
        if (spec.unit !== "fraction") expect(failure(() => family.resolve({ [key]: spec.default + 0.5 })).message).toContain(`${family.name}.${key}`);
        expect(spec.doc.length).toBeGreaterThan(0);
      }
    });
  }
});

// core/trace: the strict W3C traceparent parse and format, child contexts, the strata-source
// header, derived headers and the publish path's injection.
import { describe, expect, test } from "bun:test";
import type { PublishRequest } from "../../core/log/publish-request.ts";
import { derivedHeaders } from "../../core/trace/derived-headers.ts";
import { withTraceparent } from "../../core/trace/inject.ts";
import { formatSource, parseSource } from "../../core/trace/record-source.ts";
import { childContext, formatTraceparent, parseTraceparent } from "../../core/trace/traceparent.ts";

const VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

describe("traceparent", () => {
  test("parses a valid version-00 header and formats it back", () => {
    const context = parseTraceparent(VALID);
    expect(context).toEqual({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", flags: 1 });
    expect(formatTraceparent(context!)).toBe(VALID);
  });

  test.each([
    ["upper case", VALID.toUpperCase()],
    ["another version", `01${VALID.slice(2)}`],
    ["version ff", `ff${VALID.slice(2)}`],
    ["all-zero trace id", `00-${"0".repeat(32)}-00f067aa0ba902b7-01`],
    ["all-zero span id", `00-4bf92f3577b34da6a3ce929d0e0e4736-${"0".repeat(16)}-01`],
    ["trailing data", `${VALID}-extra`],
    ["short trace id", "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"],
    ["not hex", "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01"],
    ["empty", ""],
  ])("refuses %s", (_what, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });

  test("refuses values that are not strings", () => {
    expect(parseTraceparent(undefined)).toBeUndefined();
    expect(parseTraceparent(new TextEncoder().encode(VALID))).toBeUndefined();
    expect(parseTraceparent({ $base64: "AA==" })).toBeUndefined();
  });

  test("a child keeps the trace id and flags and gets a new span id; no parent starts a sampled trace", () => {
    const parent = parseTraceparent(VALID)!;
    const child = childContext(parent);
    expect(child.traceId).toBe(parent.traceId);
    expect(child.flags).toBe(parent.flags);
    expect(child.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(child.spanId).not.toBe(parent.spanId);
    const root = childContext(undefined);
    expect(parseTraceparent(formatTraceparent(root))).toEqual(root);
    expect(root.flags).toBe(1);
    expect(childContext(undefined).traceId).not.toBe(root.traceId);
  });
});

describe("strata-source", () => {
  test("round-trips stream names with slashes", () => {
    const position = { stream: "pipeline/stage-1", partition: 3, offset: 1234567 };
    expect(formatSource(position)).toBe("pipeline/stage-1/3/1234567");
    expect(parseSource(formatSource(position))).toEqual(position);
  });

  test.each(["s1/0", "s1/x/1", "S1/0/1", "s1/01/2", "s1/0/-1", "/0/1", "s1/0/99999999999999999", 42])("refuses %p", (value) => {
    expect(parseSource(value)).toBeUndefined();
  });
});

describe("derived headers", () => {
  test("carry the source's trace on and name the source", () => {
    const headers = derivedHeaders({ stream: "s1", partition: 0, offset: 7, headers: { traceparent: VALID } });
    const context = parseTraceparent(headers.traceparent)!;
    expect(context.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(context.spanId).not.toBe("00f067aa0ba902b7");
    expect(headers["strata-source"]).toBe("s1/0/7");
  });

  test("start a new trace when the source has none or a bad one", () => {
    for (const headers of [{}, { traceparent: "garbage" }]) {
      const derived = derivedHeaders({ stream: "s1", partition: 0, offset: 7, headers });
      expect(parseTraceparent(derived.traceparent)).toBeDefined();
      expect(derived["strata-source"]).toBe("s1/0/7");
    }
  });
});

describe("publish injection", () => {
  const request: PublishRequest = {
    producer: null,
    records: [
      { key: null, headers: {}, fields: { a: 1 } },
      { key: null, headers: { traceparent: "00-11111111111111111111111111111111-2222222222222222-00" }, fields: { a: 2 } },
      { key: null, headers: { h1: "x", h2: "y" }, fields: { a: 3 } },
    ],
  };

  test("adds a valid header to records without one, within the header limit", () => {
    const out = withTraceparent(request, VALID, 2);
    expect(out.records[0]!.headers).toEqual({ traceparent: VALID });
    expect(out.records[1]!.headers.traceparent).toBe("00-11111111111111111111111111111111-2222222222222222-00");
    expect(out.records[2]!.headers).toEqual({ h1: "x", h2: "y" });
    expect(withTraceparent(request, VALID, 64).records[2]!.headers).toEqual({ h1: "x", h2: "y", traceparent: VALID });
  });

  test("answers the request itself without a header or with an invalid one", () => {
    expect(withTraceparent(request, undefined, 64)).toBe(request);
    expect(withTraceparent(request, "00-bad", 64)).toBe(request);
  });
});

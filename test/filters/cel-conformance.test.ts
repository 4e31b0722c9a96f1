// The parts of the CEL conformance suite (@bufbuild/cel-spec) that filters rely on, run through
// the filter's own compile path: each test expression is compiled with compileFilter and judged
// on a record. A test expecting `true` must match; one expecting `false`, any non-bool value or
// an evaluation error must not (a filter that cannot judge a record does not match it).
// Tests with variable bindings, a container, declared types or protobuf message construction
// (google.protobuf.*{...}, which filters refuse) are outside what a filter expression can
// reference and are left out; the counts are printed. A test expecting an evaluation error for
// an unknown function passes when compileFilter refuses the expression (BAD_FILTER, earlier).
// Left out too: fields/quoted_map_fields (backquoted field names, which the parser of
// @bufbuild/cel 0.6.1 does not accept) and comparisons/eq_wrapper (protobuf wrapper messages).
import { expect, test } from "bun:test";
import { getConformanceSuite, type IncrementalTest, type IncrementalTestSuite } from "@bufbuild/cel-spec/testdata/tests.js";
import { StrataError } from "../../core/errors.ts";
import { compileFilter } from "../../gateway/filters/record-filter.ts";
import { DEFAULT_FILTER_LIMITS } from "../../gateway/filters/filter-limits.ts";

/** Sections (and their subsections; all when none are named) that matter for filters. */
const SECTIONS: Record<string, readonly string[] | "all"> = {
  basic: ["self_eval_zeroish", "self_eval_nonzeroish", "functions", "reserved_const"],
  comparisons: ["eq_literal", "ne_literal", "lt_literal", "gt_literal", "lte_literal", "gte_literal", "in_list_literal", "in_map_literal", "bound"],
  logic: "all",
  lists: "all",
  fields: ["map_fields", "map_has", "in"],
  string: "all",
  string_ext: ["char_at", "index_of", "last_index_of", "ascii_casing", "replace", "split", "substring", "trim", "join"],
  fp_math: "all",
  integer_math: "all",
  macros: "all",
  conversions: ["bytes", "double", "int", "string", "uint", "bool", "identity"],
};

/** Tests where filters deliberately differ from CEL, with the reason; each must still differ. */
const DIVERGENCES: Record<string, string> = {
  "basic/functions/unbound_is_runtime_error": "an unknown function is BAD_FILTER at compile time (a typo is reported, not silently unmatched), even where || would absorb the error",
};

// Conformance macros nest (macros/nested), deeper than the default bound: the suite runs with room.
const limits = { ...DEFAULT_FILTER_LIMITS, maxFilterComprehensionDepth: 4 };
const record = { offset: 0, timestamp: 0, key: null, headers: {}, fields: {} };

function selected(): { section: string; test: IncrementalTest }[] {
  const out: { section: string; test: IncrementalTest }[] = [];
  const all = (suite: IncrementalTestSuite): IncrementalTest[] => [...suite.tests, ...suite.suites.flatMap(all)];
  for (const suite of getConformanceSuite().suites) {
    const wanted = SECTIONS[suite.name];
    if (wanted === undefined) continue;
    for (const sub of suite.suites) {
      if (wanted !== "all" && !wanted.includes(sub.name)) continue;
      for (const t of all(sub)) out.push({ section: `${suite.name}/${sub.name}`, test: t });
    }
  }
  return out;
}

/** What the filter must answer, or undefined when the test is outside a filter's reach. */
function expectation(t: IncrementalTest): boolean | undefined {
  const o = t.original;
  if (Object.keys(o.bindings).length > 0 || o.container !== "" || o.typeEnv.length > 0 || o.checkOnly || o.disableMacros) return undefined;
  if (o.expr.includes("google.protobuf.")) return undefined;
  switch (o.resultMatcher.case) {
    case undefined:
      return true; // a SimpleTest without a matcher expects true
    case "value":
      return o.resultMatcher.value.kind.case === "boolValue" ? o.resultMatcher.value.kind.value : false;
    case "evalError":
      return false;
    default:
      return undefined; // typed results, unknowns, any-of matchers
  }
}

test("CEL conformance: basic, comparisons, logic, lists, fields, strings, math, macros and conversions", () => {
  let ran = 0;
  let skipped = 0;
  let diverged = 0;
  const failures: string[] = [];
  for (const { section, test: t } of selected()) {
    const expected = expectation(t);
    if (expected === undefined) {
      skipped++;
      continue;
    }
    const divergence = DIVERGENCES[`${section}/${t.name}`];
    if (divergence !== undefined) {
      expect(() => compileFilter(t.original.expr, limits)).toThrow(StrataError);
      diverged++;
      continue;
    }
    ran++;
    try {
      const got = compileFilter(t.original.expr, limits).matches(record);
      if (got !== expected) failures.push(`${section}/${t.name}: ${t.original.expr} gave ${got}, expected ${expected}`);
    } catch (e) {
      const refusedEarlier = e instanceof StrataError && e.code === "BAD_FILTER" && t.original.resultMatcher.case === "evalError";
      if (!refusedEarlier) failures.push(`${section}/${t.name}: ${t.original.expr} refused: ${(e as Error).message}`);
    }
  }
  console.log(`CEL conformance through compileFilter: ${ran} ran, ${ran - failures.length} passed, ${skipped} left out (bindings, containers, declared types, protobuf messages), ${diverged} deliberate divergence`);
  expect(failures).toEqual([]);
  expect(ran).toBeGreaterThan(500);
});

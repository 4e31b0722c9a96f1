// What a parsed filter expression reads, checked before it runs: every identifier is one of the
// filter variables or bound by a comprehension, every named function exists, comprehensions nest
// at most maxFilterComprehensionDepth deep. A violation is BAD_FILTER with its line:column. The
// result lets evaluation decode only what the expression reads (just the named fields when it
// only selects `fields.<name>`).
import type { CelEnv, parse } from "@bufbuild/cel";
import { StrataError } from "../../core/errors.ts";

type ParsedExpr = ReturnType<typeof parse>;
type Expr = ParsedExpr["expr"];

export const FILTER_VARIABLES = ["fields", "headers", "key", "key_string", "timestamp"] as const;
export type FilterVariable = (typeof FILTER_VARIABLES)[number];

export interface FilterShape {
  /** The variables the expression reads. */
  readonly variables: ReadonlySet<FilterVariable>;
  /** The fields it reads by name, or null when it uses `fields` as a whole (e.g. `"x" in fields`). */
  readonly fieldNames: ReadonlySet<string> | null;
}

function isFilterVariable(name: string): name is FilterVariable {
  return (FILTER_VARIABLES as readonly string[]).includes(name);
}

/** `line:column` (1-based) of a character offset in the expression. */
export function lineColumn(source: string, offset: number): string {
  let line = 1;
  let column = 1;
  for (let i = 0; i < Math.min(offset, source.length); i++) {
    if (source[i] === "\n") {
      line++;
      column = 1;
    } else column++;
  }
  return `${line}:${column}`;
}

export function filterShape(parsed: ParsedExpr, source: string, env: CelEnv, maxComprehensionDepth: number): FilterShape {
  const variables = new Set<FilterVariable>();
  const fieldNames = new Set<string>();
  let wholeFields = false;
  const positions = parsed.sourceInfo?.positions ?? {};
  const fail = (expr: Expr, what: string): never => {
    const offset = positions[expr.id.toString()];
    const at = offset === undefined ? "" : ` at ${lineColumn(source, offset)}`;
    throw new StrataError("BAD_FILTER", `filter${at}: ${what}`);
  };

  // An explicit stack: a deeply nested expression cannot overflow the call stack.
  const stack: { expr: Expr; bound: ReadonlySet<string>; depth: number }[] = [{ expr: parsed.expr, bound: new Set(), depth: 0 }];
  while (stack.length > 0) {
    const { expr, bound, depth } = stack.pop()!;
    const kind = expr.exprKind;
    switch (kind.case) {
      case "constExpr":
      case undefined:
        break;
      case "identExpr": {
        const name = kind.value.name;
        if (bound.has(name)) break;
        if (!isFilterVariable(name)) fail(expr, `unknown variable '${name}' (the variables are ${FILTER_VARIABLES.join(", ")})`);
        else {
          variables.add(name);
          if (name === "fields") wholeFields = true;
        }
        break;
      }
      case "selectExpr": {
        const operand = kind.value.operand;
        if (operand?.exprKind.case === "identExpr" && operand.exprKind.value.name === "fields" && !bound.has("fields")) {
          variables.add("fields");
          fieldNames.add(kind.value.field);
        } else if (operand) stack.push({ expr: operand, bound, depth });
        break;
      }
      case "callExpr": {
        const name = kind.value.function;
        // Operators (_&&_, @in, ...) are the parser's own; a named function must exist.
        if (/^[A-Za-z]/.test(name) && env.funcs.find(name) === undefined) fail(expr, `unknown function '${name}'`);
        if (kind.value.target) stack.push({ expr: kind.value.target, bound, depth });
        for (const arg of kind.value.args) stack.push({ expr: arg, bound, depth });
        break;
      }
      case "listExpr":
        for (const element of kind.value.elements) stack.push({ expr: element, bound, depth });
        break;
      case "structExpr":
        if (kind.value.messageName !== "") fail(expr, `message construction (${kind.value.messageName}) is not supported`);
        for (const entry of kind.value.entries) {
          if (entry.keyKind.case === "mapKey") stack.push({ expr: entry.keyKind.value, bound, depth });
          if (entry.value) stack.push({ expr: entry.value, bound, depth });
        }
        break;
      case "comprehensionExpr": {
        const c = kind.value;
        if (depth + 1 > maxComprehensionDepth) fail(expr, `comprehensions (all, exists, exists_one, map, filter) nest at most ${maxComprehensionDepth} deep`);
        if (c.iterRange) stack.push({ expr: c.iterRange, bound, depth });
        if (c.accuInit) stack.push({ expr: c.accuInit, bound, depth });
        const inner = new Set(bound).add(c.iterVar).add(c.accuVar);
        if (c.iterVar2 !== "") inner.add(c.iterVar2);
        for (const part of [c.loopCondition, c.loopStep, c.result]) if (part) stack.push({ expr: part, bound: inner, depth: depth + 1 });
        break;
      }
    }
  }
  return { variables, fieldNames: wholeFields ? null : fieldNames };
}

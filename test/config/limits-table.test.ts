// README's limits section must be the one generated from the limit declarations.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { LIMITS_BEGIN, LIMITS_END, README_PATH, renderLimitsSection } from "../../scripts/limits-table.ts";

test("README's limits section is generated from the declarations (npm run limits:table rewrites it)", () => {
  const readme = readFileSync(README_PATH, "utf8");
  const begin = readme.indexOf(LIMITS_BEGIN);
  const end = readme.indexOf(LIMITS_END);
  expect(begin).toBeGreaterThan(-1);
  expect(end).toBeGreaterThan(begin);
  expect(readme.slice(begin + LIMITS_BEGIN.length, end).trim()).toBe(renderLimitsSection());
});

test("every gateway default appears in the table", () => {
  const section = renderLimitsSection();
  for (const row of ["| `maxRequestBytes` | 64 MiB | 1 KiB – 1 GiB |", "| `maxFetchBytes` | 16 MiB |", "| `segmentMs` | 10 min |", "| `gcRewriteMinDeadFraction` | 0.2 | 0 – 1 |", "| `maxFrameBytes` | 16 MiB | 64 KiB – 1 GiB |"]) {
    expect(section).toContain(row);
  }
});

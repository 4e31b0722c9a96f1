// Runs one module of the Python client's unittest suite (python/tests) against a gateway, with the
// interpreter test/helpers/python.ts finds, and fails with the suite's own report when it fails.
import { expect } from "bun:test";
import { PYTHON_DIR, runPython } from "../helpers/python.ts";

export function expectPythonTests(module: string, env: Record<string, string>, timeoutMs = 240_000): void {
  const result = runPython(["-m", "unittest", "-v", module], { cwd: PYTHON_DIR, env, timeoutMs });
  const report = `${result.stdout}${result.stderr}`;
  if (result.code !== 0) throw new Error(`python -m unittest ${module} exited ${result.code}:\n${report}`);
  expect(report).toMatch(/\nOK/);
}

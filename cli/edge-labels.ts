// `--label KEY=VALUE` options of the fleet commands (`edge run`, `devices list`, `rollout start`).
import { UsageError } from "./command.ts";
import { parseLabel } from "../edge/store/device.ts";
import { StrataError } from "../core/errors.ts";

export function labelPairs(texts: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const text of texts) {
    try {
      const [k, v] = parseLabel(text);
      labels[k] = v;
    } catch (e) {
      if (e instanceof StrataError) throw new UsageError(`--label: ${e.message}`);
      throw e;
    }
  }
  return labels;
}

// The gateway's configuration from a JSON file, and layers of configuration stacked: a file
// under the command line, each part checked on its own before the whole goes to openGateway
// (which checks it again, with the checks between keys).
import { readFile } from "node:fs/promises";
import { StrataError } from "../../core/errors.ts";
import { parseGatewayConfigLayer, type GatewayConfigLayer } from "./gateway-config.ts";

/**
 * Reads and checks a JSON file holding any part of the configuration. A file that cannot be
 * read, is not JSON, or holds an unknown key or a value out of range is BAD_REQUEST naming the
 * file and the problem.
 */
export async function readGatewayConfigFile(path: string): Promise<GatewayConfigLayer> {
  const source = `config file ${path}`;
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new StrataError("BAD_REQUEST", `${source}: cannot read it: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new StrataError("BAD_REQUEST", `${source}: not JSON: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return parseGatewayConfigLayer(json, source);
}

/** `under` and `over` together, `over` winning key by key, also inside `s3` and the limit families. */
export function layerGatewayConfig(under: GatewayConfigLayer, over: GatewayConfigLayer): GatewayConfigLayer {
  return {
    ...under,
    ...over,
    ...merged("s3", under.s3, over.s3),
    ...merged("limits", under.limits, over.limits),
    ...merged("storage", under.storage, over.storage),
    ...merged("artefacts", under.artefacts, over.artefacts),
    ...merged("quic", under.quic, over.quic),
  };
}

/** `{ [key]: under and over merged }` when both layers have the part; nothing when one side alone has it (the plain spread keeps that one). */
function merged<K extends string, T extends object>(key: K, under: T | undefined, over: T | undefined): { [P in K]?: T } {
  if (under === undefined || over === undefined) return {};
  const part: { [P in K]?: T } = {};
  part[key] = { ...under, ...over };
  return part;
}

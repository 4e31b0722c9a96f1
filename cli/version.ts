// The version `strata --version` prints: package.json's, read at build time (bundled into the
// Node build, imported as JSON under Bun and Deno).
import { z } from "zod";
import packageJson from "../package.json" with { type: "json" };

export const VERSION: string = z.object({ version: z.string() }).parse(packageJson).version;

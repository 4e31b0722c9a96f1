// `strata hash FILE...`: BLAKE3 of files, printed exactly like b3sum (`HEX  NAME`); `-` (or no
// file) reads stdin. With --check, verifies b3sum-format lists (cli/hash-check.ts).
import type { Command } from "commander";
import { z } from "zod";
import { defineAction, UsageError } from "./command.ts";
import { checkLists } from "./hash-check.ts";
import { b3sumLine, hashInput, STDIN } from "./hash-input.ts";
import { ioErrorText } from "./io-error-text.ts";
import { integerText } from "./option-schemas.ts";
import { writeOut } from "./stdout.ts";

const hashOpts = z.object({
  length: integerText(0, 2 ** 30).optional(),
  names: z.boolean(),
  check: z.boolean().default(false),
  quiet: z.boolean().default(false),
});

export function registerHash(program: Command): void {
  const command = program
    .command("hash")
    .summary("BLAKE3 of files, printed like b3sum; --check verifies b3sum lists")
    .description('Prints the BLAKE3 hash of each FILE as "HEX  FILE", like b3sum. With no FILE, or when FILE is -, reads standard input.')
    .argument("[FILE...]", "files to hash (or with --check, lists to check)")
    .option("-l, --length <N>", "output N bytes (extended output), default 32")
    .option("--no-names", "print only the hashes")
    .option("-c, --check", 'read "HEX  FILE" lines (b3sum output) from the FILEs and check them: "FILE: OK" or "FILE: FAILED", exit 1 on any failure')
    .option("--quiet", "with --check, print only failures");
  defineAction(command, { args: z.array(z.string()), opts: hashOpts }, async (files, opts) => {
    const inputs = files.length > 0 ? files : [STDIN];
    if (opts.check) {
      if (opts.length !== undefined) throw new UsageError("--length cannot be used with --check");
      if (!opts.names) throw new UsageError("--no-names cannot be used with --check");
      return checkLists(inputs, { quiet: opts.quiet });
    }
    if (opts.quiet) throw new UsageError("--quiet needs --check");
    const length = opts.length ?? 32;
    let status = 0;
    for (const file of inputs) {
      try {
        const hex = await hashInput(file, length);
        await writeOut(opts.names ? b3sumLine(hex, file) : `${hex}\n`);
      } catch (e) {
        process.stderr.write(`strata hash: ${file}: ${ioErrorText(e)}\n`);
        status = 1;
      }
    }
    return status;
  });
}

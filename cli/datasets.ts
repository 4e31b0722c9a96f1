// `strata datasets create|list|show|delete`: dataset versions (docs/datasets.md). A version prints
// as JSON with an ISO 8601 created_at (--json keeps the gateway's milliseconds); the listing is
// one tab-separated line per dataset.
import type { Command } from "commander";
import { z } from "zod";
import { datasetDescriptionSchema, datasetListSchema, datasetVersionSchema, releasedVersionSchema, type DatasetVersion } from "../gateway/datasets/dataset-wire.ts";
import { defineAction } from "./command.ts";
import { caFileText, caOption, clientFor, expectOk } from "./gateway-client.ts";
import { withGateway } from "./gateway-errors.ts";
import { tokenOption, tokenText } from "./gateway-token.ts";
import { gatewayOption, httpUrlText } from "./gateway-url.ts";
import { integerText } from "./option-schemas.ts";
import { writeOut } from "./stdout.ts";

const clientOpts = { gateway: httpUrlText, token: tokenText, ca: caFileText };

/** A version as printed: created_at in ISO 8601 unless --json. */
function shown(version: DatasetVersion, json: boolean): Record<string, unknown> {
  return json ? version : { ...version, created_at: new Date(version.created_at).toISOString() };
}

/** `--fields a,b` as a list of names. */
const fieldList = z
  .string()
  .transform((text) => text.split(",").map((f) => f.trim()).filter((f) => f.length > 0))
  .pipe(z.array(z.string()).min(1, { message: "--fields names at least one field" }));

/** A version on the command line: a positive integer or `latest`. */
const versionText = z.string().regex(/^([1-9]\d{0,15}|latest)$/, { message: 'a version is a positive integer or "latest"' });

export function registerDatasets(program: Command): void {
  const datasets = program.command("datasets").summary("create, list, show and release dataset versions").description("Create immutable dataset versions of a stream (optionally filtered), list them, show them and release them.");

  const create = datasets
    .command("create")
    .description("Pin the stream's current offset ranges (only records matching --filter, when given) as the next version of dataset NAME.")
    .argument("<NAME>", "dataset name, e.g. images")
    .requiredOption("--stream <S>", "the stream the version pins")
    .option("--filter <EXPR>", "a CEL expression over fields, headers, key and timestamp (docs/filters.md)")
    .option("--fields <a,b>", "the version's default projection of sample reads")
    .option("--span-samples <N>", "samples per span of the shuffle (default: about 8 MiB of samples)")
    .option("--json", "print created_at as milliseconds")
    .addOption(gatewayOption())
    .addOption(tokenOption())
    .addOption(caOption());
  defineAction(
    create,
    {
      args: z.tuple([z.string()]),
      opts: z.object({ stream: z.string(), filter: z.string().optional(), fields: fieldList.optional(), spanSamples: integerText(1).optional(), json: z.boolean().default(false), ...clientOpts }),
    },
    async ([name], opts) =>
      withGateway(opts.gateway, async () => {
        const response = await clientFor(opts.gateway, opts.token, opts.ca).v1.datasets.$post({
          json: {
            name,
            stream: opts.stream,
            ...(opts.filter !== undefined ? { filter: opts.filter } : {}),
            ...(opts.fields !== undefined ? { fields: opts.fields } : {}),
            ...(opts.spanSamples !== undefined ? { span_samples: opts.spanSamples } : {}),
          },
        });
        const version = await expectOk(response, datasetVersionSchema, `create dataset ${name}`);
        await writeOut(`${JSON.stringify(shown(version, opts.json))}\n`);
        return 0;
      }),
  );

  const list = datasets
    .command("list")
    .description("List datasets (one line each: stream, live versions, latest version; --json: one object).")
    .option("--json", 'print {"datasets": [...]} as the gateway answers it')
    .addOption(gatewayOption())
    .addOption(tokenOption())
    .addOption(caOption());
  defineAction(list, { args: z.tuple([]), opts: z.object({ json: z.boolean().default(false), ...clientOpts }) }, async (_args, opts) =>
    withGateway(opts.gateway, async () => {
      const answer = await expectOk(await clientFor(opts.gateway, opts.token, opts.ca).v1.datasets.$get(), datasetListSchema, "list datasets");
      if (opts.json) {
        await writeOut(`${JSON.stringify(answer)}\n`);
        return 0;
      }
      await writeOut(answer.datasets.map((d) => `${d.name}\tstream=${d.stream}\tversions=${d.versions}\tlatest=${d.latest}\n`).join(""));
      return 0;
    }),
  );

  const show = datasets
    .command("show")
    .description("Show a dataset's live versions (one JSON object per line), or one version.")
    .argument("<NAME>", "dataset name")
    // VERSION is positional: --version is the program's own flag (it prints strata's version).
    .argument("[VERSION]", 'a version number or "latest"')
    .option("--json", "print created_at as milliseconds")
    .addOption(gatewayOption())
    .addOption(tokenOption())
    .addOption(caOption());
  defineAction(show, { args: z.tuple([z.string(), versionText.optional()]), opts: z.object({ json: z.boolean().default(false), ...clientOpts }) }, async ([name, version], opts) =>
    withGateway(opts.gateway, async () => {
      const client = clientFor(opts.gateway, opts.token, opts.ca).v1.datasets[":name"];
      const versions =
        version === undefined
          ? (await expectOk(await client.$get({ param: { name } }), datasetDescriptionSchema, `show dataset ${name}`)).versions
          : [await expectOk(await client.versions[":version"].$get({ param: { name, version } }), datasetVersionSchema, `show dataset ${name} version ${version}`)];
      await writeOut(versions.map((v) => `${JSON.stringify(shown(v, opts.json))}\n`).join(""));
      return 0;
    }),
  );

  const release = datasets
    .command("delete")
    .description("Release a version: its pins on the stream go (retention may then remove its data) and its number is never reused.")
    .argument("<NAME>", "dataset name")
    .argument("<VERSION>", 'the version number (or "latest")')
    .addOption(gatewayOption())
    .addOption(tokenOption())
    .addOption(caOption());
  defineAction(release, { args: z.tuple([z.string(), versionText]), opts: z.object(clientOpts) }, async ([name, version], opts) =>
    withGateway(opts.gateway, async () => {
      const response = await clientFor(opts.gateway, opts.token, opts.ca).v1.datasets[":name"].versions[":version"].$delete({ param: { name, version } });
      const released = await expectOk(response, releasedVersionSchema, `delete dataset ${name} version ${version}`);
      await writeOut(`released ${released.name} version ${released.version}\n`);
      return 0;
    }),
  );
}

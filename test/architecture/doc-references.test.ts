import { describe, expect, test } from "bun:test";
import { fileURLToPath } from "node:url";
import { anchorsOf, brokenReferences, headingAnchor, listDocuments, repositoryOnDisk } from "./doc-references.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");

/** A repository held in memory: path → text; folders are implied by the paths. */
function repository(files: Record<string, string>) {
  const paths = Object.keys(files);
  return {
    root: "/in-memory",
    read: (path: string) => files[path],
    isDirectory: (path: string) => paths.some((p) => p.startsWith(`${path}/`)),
  };
}

describe("the repository's documents", () => {
  const docs = listDocuments(ROOT);

  test("are found: the README, docs/ and the edge READMEs", () => {
    for (const doc of ["README.md", "docs/architecture.md", "docs/storage-format.md", "edge/README.md"]) expect(docs).toContain(doc);
  });

  test("name only files that are in the repository", () => {
    const broken = brokenReferences(repositoryOnDisk(ROOT), docs);
    expect(broken.map((b) => `${b.doc}:${b.line} ${b.kind} "${b.text}": ${b.reason}`).join("\n")).toBe("");
  });
});

describe("the reference checker", () => {
  const repo = repository({
    "README.md": [
      "See [the architecture](docs/architecture.md#the-tree) and `gateway/log/wal.ts`.",
      "Broken: [design](../shared/DESIGN.md), [gone](docs/gone.md), [anchor](docs/architecture.md#no-such-heading).",
      "Moved: `gateway/storage/wal.ts`, and `DESIGN.md` of a folder outside.",
      "Not paths: `strata/client`, `node:quic`, `<data>/pack-cache`, `http://127.0.0.1:7070`, `npx strata hash FILE`, `/v1/chunks/missing`.",
      "```sh",
      "cat gateway/nothing/here.ts `core/nope.ts`",
      "```",
      "Built: `wasm/module.generated.ts`, `dist/node/strata.mjs`.",
    ].join("\n"),
    "docs/architecture.md": "# Architecture\n\n## The tree\n\nSee [the README](../README.md) and [below](#the-tree).",
    "gateway/log/wal.ts": "",
    "edge/README.md": "Schema in `db/schema.ts`; transports in `transports/gone.ts`.",
    "edge/db/schema.ts": "",
    "edge/transports/http.ts": "",
  });

  test("reports each broken link, anchor and path with its line", () => {
    const broken = brokenReferences(repo, ["README.md", "docs/architecture.md", "edge/README.md"]);
    expect(broken.map((b) => [b.doc, b.line, b.text, b.reason])).toEqual([
      ["README.md", 2, "../shared/DESIGN.md", "points outside the repository"],
      ["README.md", 2, "docs/gone.md", "docs/gone.md does not exist"],
      ["README.md", 2, "docs/architecture.md#no-such-heading", "docs/architecture.md has no heading with the anchor #no-such-heading"],
      ["README.md", 3, "gateway/storage/wal.ts", "gateway/storage/wal.ts does not exist"],
      ["README.md", 3, "DESIGN.md", "DESIGN.md does not exist"],
      ["edge/README.md", 1, "transports/gone.ts", "neither transports/gone.ts nor edge/transports/gone.ts exists"],
    ]);
  });

  test("computes GitHub's heading anchors", () => {
    expect(headingAnchor("The artefact reference index and a crash after the fsync")).toBe("the-artefact-reference-index-and-a-crash-after-the-fsync");
    expect(headingAnchor("Push (`pushArtefact`, `edge/artefacts/push.ts`)")).toBe("push-pushartefact-edgeartefactspushts");
    expect([...anchorsOf("# A\n## Flow\n```\n# not a heading\n```\n## Flow\n")]).toEqual(["a", "flow", "flow-1"]);
  });
});

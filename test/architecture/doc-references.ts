// The repository paths a Markdown document names: relative links (with their #anchors) and
// code spans that spell a path inside the repository. Fenced code blocks are skipped (their
// contents are examples: commands, trees, output).
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { posix } from "node:path";

/** Top-level folders whose paths documents cite; a code span starting with one must exist. */
export const REPOSITORY_FOLDERS = ["core", "wasm", "runtime", "native", "gateway", "edge", "cli", "bin", "python", "test", "bench", "docs", "examples", "scripts", ".ci"] as const;
/** Paths that exist only after a build (`npm run build`): cited, but absent from a fresh clone. */
const BUILT_PATHS = [/\.generated\.ts$/, /^wasm\/build(\/|$)/, /^dist(\/|$)/];
/** Spaces, template words (NAME, FILE), URL schemes and routes (`/v1/...`) mark a code span that is no repository path. */
const NOT_A_PATH = /[\s<>*{}|$…?]|^[a-z]+:|^\//i;

export interface DocReference {
  readonly doc: string;
  readonly line: number;
  /** As written: a link target or the text of a code span. */
  readonly text: string;
  readonly kind: "link" | "code";
}

export interface BrokenReference extends DocReference {
  readonly reason: string;
}

/** GitHub's anchor for a heading: lowercase, punctuation dropped, spaces as hyphens. */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");
}

/** The anchors of a document's headings (repeated headings get -1, -2, … as on GitHub). */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line.text);
    if (!heading?.[1]) continue;
    const base = headingAnchor(heading[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Lines outside fenced code blocks, with their 1-based numbers. */
function proseLines(markdown: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let fence: string | undefined;
  markdown.split("\n").forEach((text, i) => {
    const marker = /^\s*(```+|~~~+)/.exec(text)?.[1];
    if (marker !== undefined && (fence === undefined || marker.startsWith(fence))) {
      fence = fence === undefined ? marker : undefined;
      return;
    }
    if (fence === undefined) out.push({ line: i + 1, text });
  });
  return out;
}

/** Links `[text](target)` and code spans of a document. */
export function referencesOf(doc: string, markdown: string): DocReference[] {
  const refs: DocReference[] = [];
  for (const { line, text } of proseLines(markdown)) {
    const withoutCode = text.replace(/`[^`]*`/g, "");
    for (const m of withoutCode.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) refs.push({ doc, line, text: m[1] ?? "", kind: "link" });
    for (const m of text.matchAll(/`([^`]+)`/g)) refs.push({ doc, line, text: m[1] ?? "", kind: "code" });
  }
  return refs;
}

interface Repository {
  readonly root: string;
  readonly read: (path: string) => string | undefined;
  readonly isDirectory: (path: string) => boolean;
}

export function repositoryOnDisk(root: string): Repository {
  const full = (path: string): string => posix.join(root, path);
  return {
    root,
    read: (path) => (existsSync(full(path)) && statSync(full(path)).isFile() ? readFileSync(full(path), "utf8") : undefined),
    isDirectory: (path) => existsSync(full(path)) && statSync(full(path)).isDirectory(),
  };
}

const exists = (repo: Repository, path: string): boolean => BUILT_PATHS.some((p) => p.test(path)) || repo.isDirectory(path) || repo.read(path) !== undefined;

/** Why a reference is broken, or undefined when it holds (or is not a repository path). */
export function checkReference(repo: Repository, ref: DocReference): string | undefined {
  const docDir = posix.dirname(ref.doc);
  if (ref.kind === "link") {
    if (/^[a-z][a-z0-9+.-]*:/i.test(ref.text)) return undefined; // http:, mailto:, …
    const [pathPart = "", anchor] = ref.text.split("#", 2);
    const target = pathPart === "" ? ref.doc : posix.normalize(posix.join(docDir, decodeURIComponent(pathPart)));
    if (target.startsWith("..")) return "points outside the repository";
    if (!exists(repo, target)) return `${target} does not exist`;
    if (anchor !== undefined && target.endsWith(".md")) {
      const text = repo.read(target);
      if (text !== undefined && !anchorsOf(text).has(anchor)) return `${target} has no heading with the anchor #${anchor}`;
    }
    return undefined;
  }
  const path = ref.text.replace(/\/$/, "");
  if (NOT_A_PATH.test(path) || path.length === 0) return undefined;
  const first = path.split("/")[0] ?? "";
  const fromRoot = (REPOSITORY_FOLDERS as readonly string[]).includes(first);
  const fromDoc = docDir !== "." && path.includes("/") && repo.isDirectory(posix.join(docDir, first));
  const markdownFile = path.endsWith(".md");
  if (!fromRoot && !fromDoc && !markdownFile) return undefined;
  if (exists(repo, path) || exists(repo, posix.join(docDir, path))) return undefined;
  return fromDoc ? `neither ${path} nor ${posix.join(docDir, path)} exists` : `${path} does not exist`;
}

/** Markdown documents of the repository: the README, docs/ and every README.md under the source folders. */
export function listDocuments(root: string): string[] {
  const docs = ["README.md"];
  const walk = (folder: string): void => {
    if (!existsSync(posix.join(root, folder))) return;
    for (const entry of readdirSync(posix.join(root, folder), { withFileTypes: true })) {
      const path = posix.join(folder, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "node_modules" && !entry.name.startsWith(".")) walk(path);
      } else if (entry.name.endsWith(".md")) {
        docs.push(path);
      }
    }
  };
  for (const folder of REPOSITORY_FOLDERS) if (folder !== ".ci") walk(folder);
  return docs.sort();
}

export function brokenReferences(repo: Repository, docs: readonly string[]): BrokenReference[] {
  return docs.flatMap((doc) => {
    const text = repo.read(doc);
    if (text === undefined) return [];
    return referencesOf(doc, text).flatMap((ref) => {
      const reason = checkReference(repo, ref);
      return reason === undefined ? [] : [{ ...ref, reason }];
    });
  });
}

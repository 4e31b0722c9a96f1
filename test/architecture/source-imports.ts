// Every import of every source file, read with the TypeScript compiler's parser (not a regex):
// static imports, `export … from`, dynamic `import()`, `import("x").T` types and `require()`.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { posix } from "node:path";
import ts from "typescript";

/** What an import specifier names. Paths are relative to the repository root, `/`-separated. */
export type ImportTarget =
  | { readonly kind: "file"; readonly path: string }
  /** A runtime built-in: `node:*`, `bun:*`, or a bare Node built-in name such as `fs`. */
  | { readonly kind: "builtin"; readonly module: string }
  | { readonly kind: "package"; readonly name: string };

export type ImportForm = "import" | "export-from" | "dynamic-import" | "import-type" | "require";

export interface SourceImport {
  readonly from: string;
  readonly line: number;
  readonly specifier: string;
  readonly form: ImportForm;
  readonly typeOnly: boolean;
  readonly target: ImportTarget;
}

/** A dynamic `import(expr)` whose module cannot be known without running the code. */
export interface OpaqueImport {
  readonly from: string;
  readonly line: number;
  readonly expression: string;
}

export interface SourceFileImports {
  readonly path: string;
  readonly imports: readonly SourceImport[];
  readonly opaque: readonly OpaqueImport[];
}

const SOURCE_EXTENSION = /\.(ts|mts|cts|js|mjs|cjs)$/;
const RESOLVE_SUFFIXES = ["", ".ts", ".mts", ".js", ".mjs", "/index.ts", "/index.js"];
const NODE_BUILTINS = new Set(builtinModules);

function isBuiltin(specifier: string): boolean {
  return specifier.startsWith("node:") || specifier.startsWith("bun:") || specifier === "bun" || NODE_BUILTINS.has(specifier);
}

/** Classifies a specifier written in `from` (a repository-relative path). */
export function resolveSpecifier(root: string, from: string, specifier: string): ImportTarget {
  if (isBuiltin(specifier)) return { kind: "builtin", module: specifier };
  if (!specifier.startsWith(".") && !specifier.startsWith("/")) return { kind: "package", name: packageName(specifier) };
  const joined = specifier.startsWith("/") ? posix.relative(root, specifier) : posix.join(posix.dirname(from), specifier);
  const candidates = RESOLVE_SUFFIXES.map((suffix) => joined + suffix);
  // TypeScript's ESM convention: `./x.js` may name `./x.ts`.
  if (joined.endsWith(".js")) candidates.push(joined.slice(0, -3) + ".ts");
  const found = candidates.find((candidate) => existsSync(posix.join(root, candidate)));
  // A file that does not exist (yet) is still classified by where it would be: a generated
  // module such as wasm/module.generated.ts is absent before the first build.
  return { kind: "file", path: found ?? joined };
}

function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? specifier);
}

/** The string a module-specifier expression stands for, or undefined when it is computed. */
function literalText(node: ts.Node, constants: ReadonlyMap<string, string>): string | undefined {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isIdentifier(node)) return constants.get(node.text);
  return undefined;
}

/** `const name = "literal"` declarations anywhere in the file, for `import(name)`. */
function stringConstants(file: ts.SourceFile): Map<string, string> {
  const constants = new Map<string, string>();
  const visit = (node: ts.Node): void => {
    if (
      ts.isVariableDeclarationList(node) &&
      (node.flags & ts.NodeFlags.Const) !== 0
    ) {
      for (const declaration of node.declarations) {
        if (ts.isIdentifier(declaration.name) && declaration.initializer && ts.isStringLiteralLike(declaration.initializer)) {
          constants.set(declaration.name.text, declaration.initializer.text);
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return constants;
}

/** The imports of one file's text; `path` is repository-relative. */
export function parseImports(root: string, path: string, text: string): SourceFileImports {
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const constants = stringConstants(file);
  const imports: SourceImport[] = [];
  const opaque: OpaqueImport[] = [];
  const lineOf = (node: ts.Node): number => file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1;
  const add = (node: ts.Node, specifier: string, form: ImportForm, typeOnly: boolean): void => {
    imports.push({ from: path, line: lineOf(node), specifier, form, typeOnly, target: resolveSpecifier(root, path, specifier) });
  };

  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node, node.moduleSpecifier.text, "import", node.importClause?.isTypeOnly ?? false);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node, node.moduleSpecifier.text, "export-from", node.isTypeOnly);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const text = literalText(node.moduleReference.expression, constants);
      if (text !== undefined) add(node, text, "require", node.isTypeOnly);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      add(node, node.argument.literal.text, "import-type", true);
    } else if (ts.isCallExpression(node)) {
      const isDynamicImport = node.expression.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(node.expression) && node.expression.text === "require";
      const argument = node.arguments[0];
      if ((isDynamicImport || isRequire) && argument !== undefined) {
        const text = literalText(argument, constants);
        if (text !== undefined) add(node, text, isDynamicImport ? "dynamic-import" : "require", false);
        else opaque.push({ from: path, line: lineOf(node), expression: node.getText(file) });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return { path, imports, opaque };
}

/** Source files (repository-relative) under `folders`, skipping `excluded` folders. */
export function listSourceFiles(root: string, folders: readonly string[], excluded: readonly string[]): string[] {
  const files: string[] = [];
  const walk = (folder: string): void => {
    for (const entry of readdirSync(posix.join(root, folder), { withFileTypes: true })) {
      const path = posix.join(folder, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "node_modules" && !excluded.includes(path)) walk(path);
      } else if (SOURCE_EXTENSION.test(entry.name)) {
        files.push(path);
      }
    }
  };
  for (const folder of folders) if (existsSync(posix.join(root, folder))) walk(folder);
  return files.sort();
}

/** Parses every source file under `folders`. */
export function readSourceImports(root: string, folders: readonly string[], excluded: readonly string[]): SourceFileImports[] {
  return listSourceFiles(root, folders, excluded).map((path) => parseImports(root, path, readFileSync(posix.join(root, path), "utf8")));
}

// What a stage's code is, derived from the code itself rather than kept by hand: the module that
// defines the stage, every module it imports at run time (transitively), the npm packages among
// those imports (by installed version), and the package files those modules name (libexec
// scripts, installer scripts, templates, Calamares modules). A change to any of them changes
// the stage's cache key (plan.ts); a change anywhere else does not.
//
// Which tree: the TypeScript sources under src/ when the package has them (a checkout, and the
// package as published), so a build run from dist/ and one run under vitest share keys; the
// compiled dist/ otherwise (an install without sources). Imports that only bring types are left
// out, as the compiler leaves them out: they cannot change what runs.
//
// Files the code names: a string literal that is a relative path with a folder ("libexec/x",
// "installer-scripts/live", "src/render/templates/grub.cfg.ejs") and exists in the package; in
// a module that uses `libexecDir`, also a bare name that exists in libexec/. A named folder
// counts as a whole; a libexec script counts the libexec scripts it names in turn.
import { existsSync } from "node:fs";
import { lstat, readdir, readFile } from "node:fs/promises";
import { dirname, join, posix, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { hashTree, sha256 } from "../cache/hash.js";
import { AtomisoError } from "../errors.js";
import { packageRoot } from "../paths.js";

export interface CodeClosure {
  /** Modules, relative to the package root, sorted (the stage's own module among them). */
  modules: string[];
  /** Package files and folders the modules (and libexec scripts) name, sorted. */
  assets: string[];
  /** npm packages imported, as name@version, sorted. */
  packages: string[];
}

export type SourceTree = "src" | "dist";

/** src/ when the package ships its sources, else dist/. */
export function sourceTree(root = packageRoot): SourceTree {
  return existsSync(join(root, "src")) ? "src" : "dist";
}

const TYPE_ONLY = /^\s*(?:import|export)\s+type\b/;
// import … from "x" / export … from "x": the clause holds only names, braces, commas and `*`.
const FROM = /^\s*((?:import|export)\b[\w\s{},*$]*?\bfrom\s*)["']([^"'\n]+)["']/gm;
const SIDE_EFFECT = /^\s*import\s*["']([^"'\n]+)["']/gm;
const DYNAMIC = /\bimport\(\s*["']([^"'\n]+)["']\s*\)/g;

export interface Lexed {
  /** The text with comments blanked out (strings kept). */
  code: string;
  /** Values of the string literals (and of template literals without substitutions). */
  literals: string[];
}

// After these characters (or keywords) a "/" starts a regular expression, else it divides.
const BEFORE_REGEX = new Set([..."(,=:[!&|?{};+-*%<>~^"]);
const REGEX_KEYWORDS = /\b(?:return|typeof|case|do|else|in|of|void|yield|await|delete|throw|new)$/;

/**
 * Splits TypeScript/JavaScript source into code without comments and its string literals: just
 * enough of a lexer that a quote in a comment or a regular expression cannot shift a string.
 */
export function lex(text: string): Lexed {
  let lexed = lexed_.get(text);
  if (!lexed) {
    lexed = lexUncached(text);
    lexed_.set(text, lexed);
  }
  return lexed;
}

// By content: the same text always lexes the same (tests hash many variants of one package).
const lexed_ = new Map<string, Lexed>();

function lexUncached(text: string): Lexed {
  const literals: string[] = [];
  let code = "";
  let last = ""; // last significant code character or word, to tell a regex from a division
  const templates: number[] = []; // brace depth at each open `${`
  let depth = 0;
  let i = 0;
  const readQuoted = (quote: string): string => {
    let value = "";
    i++;
    while (i < text.length && text[i] !== quote && text[i] !== "\n") {
      if (text[i] === "\\") {
        value += text.slice(i, i + 2);
        i += 2;
      } else value += text[i++];
    }
    i++;
    return value;
  };
  // Reads template characters up to the closing backtick or a `${`; true if it stopped at `${`.
  const readTemplate = (): { value: string; open: boolean } => {
    let value = "";
    while (i < text.length) {
      const c = text[i] as string;
      if (c === "\\") {
        value += text.slice(i, i + 2);
        i += 2;
      } else if (c === "`") {
        i++;
        return { value, open: false };
      } else if (c === "$" && text[i + 1] === "{") {
        i += 2;
        return { value, open: true };
      } else value += text[i++];
    }
    return { value, open: false };
  };
  while (i < text.length) {
    const c = text[i] as string;
    const next = text[i + 1];
    if (c === "/" && next === "/") {
      while (i < text.length && text[i] !== "\n") i++;
      code += " ";
    } else if (c === "/" && next === "*") {
      const end = text.indexOf("*/", i + 2);
      i = end < 0 ? text.length : end + 2;
      code += " ";
    } else if (c === '"' || c === "'") {
      const start = i;
      literals.push(readQuoted(c));
      code += text.slice(start, i);
      last = "a";
    } else if (c === "`" || (c === "}" && templates.at(-1) === depth)) {
      if (c === "}") templates.pop();
      const start = i;
      i++;
      const { value, open } = readTemplate();
      if (c === "`" && !open) literals.push(value);
      if (open) templates.push(depth);
      code += text.slice(start, i);
      last = "a";
    } else if (c === "/" && (BEFORE_REGEX.has(last) || REGEX_KEYWORDS.test(last) || last === "")) {
      const start = i;
      i++;
      let inClass = false;
      while (i < text.length && text[i] !== "\n") {
        const r = text[i] as string;
        if (r === "\\") i++;
        else if (r === "[") inClass = true;
        else if (r === "]") inClass = false;
        else if (r === "/" && !inClass) break;
        i++;
      }
      i++;
      code += text.slice(start, i);
      last = "a";
    } else {
      if (c === "{") depth++;
      if (c === "}") depth--;
      code += c;
      i++;
      if (/\w/.test(c)) last = /\w$/.test(last) ? last + c : c;
      else if (!/\s/.test(c)) last = c;
    }
  }
  return { code, literals };
}

/** The import specifiers a module needs at run time (type-only import/export statements left out). */
export function runtimeImports(text: string): string[] {
  const { code } = lex(text);
  const found = new Set<string>();
  for (const m of code.matchAll(FROM)) {
    if (!TYPE_ONLY.test(m[1] ?? "")) found.add(m[2] as string);
  }
  for (const m of code.matchAll(SIDE_EFFECT)) found.add(m[1] as string);
  for (const m of code.matchAll(DYNAMIC)) found.add(m[1] as string);
  return [...found];
}

const RELATIVE_PATH = /^[\w.@-]+(?:\/[\w.@-]+)+\/?$/;
const BARE_NAME = /^[\w.@-]+$/;

/** String literals of a module that could name a package file (checked against the disk later). */
export function pathLiterals(text: string): string[] {
  const { code, literals } = lex(text);
  const found = new Set<string>();
  const usesLibexec = /\blibexecDir\b/.test(code);
  for (const value of literals) {
    if (RELATIVE_PATH.test(value) && !value.startsWith(".")) found.add(value.replace(/\/$/, ""));
    else if (usesLibexec && BARE_NAME.test(value) && value !== "." && value !== "..")
      found.add(`libexec/${value}`);
  }
  return [...found];
}

function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] as string);
}

async function packageVersion(root: string, name: string): Promise<string> {
  for (let dir = root; ; dir = dirname(dir)) {
    const file = join(dir, "node_modules", name, "package.json");
    if (existsSync(file)) {
      const { version } = JSON.parse(await readFile(file, "utf8")) as { version?: string };
      return version ?? "unknown";
    }
    if (dirname(dir) === dir) return "not-installed";
  }
}

/** The module file a relative import names, in the tree being read. */
function resolveModule(root: string, from: string, specifier: string, tree: SourceTree): string {
  const target = posix.join(posix.dirname(from), specifier);
  const candidates =
    tree === "src" ? [target.replace(/\.js$/, ".ts"), target, `${target}.ts`] : [target];
  const found = candidates.find((c) => existsSync(join(root, c)));
  if (!found) {
    throw new AtomisoError(
      "stage-failed",
      `${from} imports "${specifier}", which is not in the package (${candidates.join(" or ")})`,
      "build the package again (npm run build) or reinstall atomiso",
    );
  }
  return found;
}

/**
 * The module file of a stage's import.meta.url (a file of this package), relative to the
 * package root and in the tree read under `root`.
 */
export function moduleOf(moduleUrl: string, root = packageRoot, tree = sourceTree(root)): string {
  const rel = relative(resolve(packageRoot), fileURLToPath(moduleUrl)).split("\\").join("/");
  if (tree === "src" && rel.startsWith("dist/"))
    return `src/${rel.slice("dist/".length).replace(/\.js$/, ".ts")}`;
  if (tree === "dist" && rel.startsWith("src/"))
    return `dist/${rel.slice("src/".length).replace(/\.ts$/, ".js")}`;
  return rel;
}

/** Walks the imports from `entry` (a path relative to root). */
export async function codeClosure(entry: string, root = packageRoot): Promise<CodeClosure> {
  const tree = sourceTree(root);
  const modules = new Set<string>();
  const assets = new Set<string>();
  const packages = new Set<string>();
  const texts: string[] = [];
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (modules.has(file)) continue;
    modules.add(file);
    const text = await readFile(join(root, file), "utf8");
    texts.push(text);
    for (const spec of runtimeImports(text)) {
      if (spec.startsWith("node:")) continue;
      if (spec.startsWith(".")) queue.push(resolveModule(root, file, spec, tree));
      else packages.add(packageName(spec));
    }
  }
  const candidates = texts.flatMap(pathLiterals);
  while (candidates.length > 0) {
    const path = candidates.pop() as string;
    if (assets.has(path) || modules.has(path) || path.startsWith("node_modules/")) continue;
    const st = await lstat(join(root, path)).catch(() => undefined);
    if (!st) continue;
    assets.add(path);
    // A libexec script may run its siblings ("$here/live-configure"): those count too.
    if (st.isFile() && path.startsWith("libexec/")) {
      const text = await readFile(join(root, path), "utf8");
      for (const name of await readdir(join(root, "libexec"))) {
        if (new RegExp(`(^|[^\\w.-])${name.replace(/[.]/g, "\\.")}($|[^\\w.-])`).test(text))
          candidates.push(`libexec/${name}`);
      }
    }
  }
  const versions = await Promise.all(
    [...packages].map(async (p) => `${p}@${await packageVersion(root, p)}`),
  );
  return {
    modules: [...modules].sort(),
    assets: [...assets].sort(),
    packages: versions.sort(),
  };
}

/** Hash of everything in a closure: each module's and file's content, each folder's tree. */
export async function closureHash(closure: CodeClosure, root = packageRoot): Promise<string> {
  const parts: string[] = [];
  for (const m of closure.modules)
    parts.push(`module ${m} ${sha256(await readFile(join(root, m)))}`);
  for (const a of closure.assets) {
    const path = join(root, a);
    const st = await lstat(path);
    const h = st.isDirectory() ? await hashTree(path) : sha256(await readFile(path));
    parts.push(`file ${a} ${st.mode.toString(8)} ${h}`);
  }
  for (const p of closure.packages) parts.push(`package ${p}`);
  return sha256(parts.join("\n"));
}

const memo = new Map<string, Promise<string>>();

/**
 * The code hash of the stage defined in `moduleUrl` (its import.meta.url), for its cache key.
 * Memoised per process for the package's own root; another root (tests) is read afresh.
 */
export function stageCodeHash(moduleUrl: string, root = packageRoot): Promise<string> {
  const compute = async () => closureHash(await codeClosure(moduleOf(moduleUrl, root), root), root);
  if (root !== packageRoot) return compute();
  let h = memo.get(moduleUrl);
  if (!h) {
    h = compute();
    memo.set(moduleUrl, h);
  }
  return h;
}

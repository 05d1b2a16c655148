// Reads generated files back with the target's own parser (or the closest one available here)
// and returns what the target would see, so tests can compare it with what went in.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Script } from "node:vm";
import { load } from "js-yaml";

function withFile<T>(name: string, content: string, fn: (path: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "atomiso-readback-"));
  try {
    const path = join(dir, name);
    writeFileSync(path, content);
    return fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** GRUB: grub-script-check must accept the file; then the menu titles and `linux` words. */
export function readGrubCfg(text: string): {
  entries: { title: string; id: string }[];
  echo: string[];
  linux: string[][];
} {
  withFile("grub.cfg", text, (path) => {
    const r = spawnSync("grub-script-check", [path], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`grub-script-check refused:\n${r.stdout}${r.stderr}`);
  });
  // GRUB's double-quote rules: \ escapes $ " \ (the renderer writes nothing else).
  const unquote = (w: string) =>
    w.startsWith('"') ? w.slice(1, -1).replace(/\\([\\"$])/g, "$1") : w;
  const words = (line: string) =>
    [...line.matchAll(/"(?:[^"\\]|\\.)*"|[^\s"]+/g)].map((m) => unquote(m[0]));
  const entries: { title: string; id: string }[] = [];
  const echo: string[] = [];
  const linux: string[][] = [];
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (t.startsWith("#")) continue;
    const w = words(t);
    if (w[0] === "menuentry") entries.push({ title: w[1] ?? "", id: w[3] ?? "" });
    if (w[0] === "echo") echo.push(...w.slice(1));
    if (w[0] === "linux") linux.push(w.slice(2));
  }
  return { entries, echo, linux };
}

/** Desktop entry: desktop-file-validate must accept it; values unescaped as the spec says. */
export function readDesktopEntry(text: string): Record<string, string> {
  withFile("atomiso-installer.desktop", text, (path) => {
    const r = spawnSync("desktop-file-validate", [path], { encoding: "utf8" });
    if (r.status !== 0 || /error:/i.test(r.stdout))
      throw new Error(`desktop-file-validate refused:\n${r.stdout}${r.stderr}`);
  });
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z0-9-]+)=(.*)$/.exec(line);
    if (!m?.[1] || m[2] === undefined) continue;
    if (m[1] in out) throw new Error(`key ${m[1]} twice`);
    out[m[1]] = m[2].replace(/\\([sntr\\])/g, (_, c: string) =>
      c === "s" ? " " : c === "n" ? "\n" : c === "t" ? "\t" : c === "r" ? "\r" : "\\",
    );
  }
  return out;
}

/**
 * os-release: read by Python's parser (platform.freedesktop_os_release's) and by sourcing it
 * in sh, which os-release(5) says must work; both must agree.
 */
export function readOsRelease(text: string): Record<string, string> {
  return withFile("os-release", text, (path) => {
    const py = JSON.parse(
      execFileSync(
        "python3",
        [
          "-c",
          "import json,platform,sys\nwith open(sys.argv[1], encoding='utf-8') as f:\n print(json.dumps(platform._parse_os_release(f)))",
          path,
        ],
        { encoding: "utf8" },
      ),
    ) as Record<string, string>;
    const keys = Object.keys(py);
    const sh = execFileSync(
      "sh",
      [
        "-c",
        `. "$1"; shift; for k; do eval "printf '%s\\0' \\"\\$$k\\""; done`,
        "sh",
        path,
        ...keys,
      ],
      { encoding: "utf8" },
    ).split("\0");
    keys.forEach((k, i) => {
      if (sh[i] !== py[k]) throw new Error(`sh reads ${k} as ${sh[i]}, python as ${py[k]}`);
    });
    return py;
  });
}

/** A QML/JS string literal, evaluated by node's JavaScript parser. */
export function evalJsString(literal: string): string {
  const value: unknown = new Script(`(${literal})`).runInNewContext({});
  if (typeof value !== "string") throw new Error(`${literal} is not a string literal`);
  return value;
}

/**
 * show.qml: every profile string sits in a string literal. Returns the literals' values and
 * the text with every literal emptied (its structure, to compare with a benign render).
 */
export function readQml(text: string): { strings: string[]; structure: string } {
  const strings: string[] = [];
  const structure = text.replace(/"(?:[^"\\\n]|\\.)*"/g, (lit) => {
    strings.push(evalJsString(lit));
    return '""';
  });
  return { strings, structure };
}

/** QSS: the stylesheet without its comments (what Qt applies). */
export function qssRules(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "");
}

/** YAML through js-yaml, after its header comments. */
export function readYaml(text: string): unknown {
  return load(text);
}

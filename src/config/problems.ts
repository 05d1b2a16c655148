// Turns zod issues into the user-facing form "atomiso.toml: live.suite: <what> (hint)".
import type { z } from "zod";

export interface Problem {
  /** Dotted path inside the file, e.g. "live.repositories[0].uri". */
  path: string;
  message: string;
  hint?: string;
}

// Hints by path pattern ([] stands for any array index).
const HINTS: Record<string, string> = {
  "live.suite": 'use a Debian suite such as "trixie" (the default)',
  "live.mirror": 'give a full URL such as "http://deb.debian.org/debian"',
  "live.packages[]": "check the name with `apt-cache policy <name>` on a Debian machine",
  "live.hostname": 'e.g. "particleos-live"',
  "live.user": 'e.g. "live"',
  "live.repositories[].signed_by":
    "export the key with `gpg --export --armor <id> > repo.asc` next to atomiso.toml",
  "iso.volume_id": 'use upper case, e.g. "PARTICLEOS"; it is the label the medium gets',
  "iso.compression": "zstd is fast to build and boot; xz is smallest",
  "product.id": 'e.g. "particleos"',
  "product.version": 'e.g. "1.0" or "2.0-rc1"',
  "iso.kernel_args[]": 'one argument per entry, e.g. ["console=ttyS0,115200", "quiet"]',
  "installer.kernel_args[]": 'one argument per entry, e.g. ["console=ttyS0,115200", "quiet"]',
  "files.extra_roots[]": 'name a folder of your project, e.g. "../shared"',
  "branding.sidebar_background": 'a colour like "#1f2a36"',
  "branding.sidebar_text": 'a colour like "#ffffff"',
};

export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || "(top level)";
}

function hintFor(path: string): string | undefined {
  return HINTS[path.replace(/\[\d+\]/g, "[]")];
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = levenshtein(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] ?? 0;
      row[j] = Math.min(
        (row[j] ?? 0) + 1,
        (row[j - 1] ?? 0) + 1,
        prev + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      prev = tmp;
    }
  }
  return row[b.length] ?? 0;
}

/** How a TOML value is named in messages: its type, and the value itself when short. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "string") {
    const shown = JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
    return `the string ${shown}`;
  }
  if (typeof value === "number")
    return Number.isInteger(value) ? `the integer ${value}` : `the number ${value}`;
  if (typeof value === "bigint") return `the integer ${value}`;
  if (typeof value === "boolean") return `the boolean ${value}`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value instanceof Date) return "a date";
  if (typeof value === "object" && value !== null) return "a table";
  return typeof value;
}

const TOML_TYPE: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "a boolean (true or false)",
  array: "an array",
  object: "a table",
};

/** What was expected and what was found, for every kind of refusal. */
function messageOf(issue: z.core.$ZodIssue): string {
  const found = "input" in issue ? issue.input : undefined;
  switch (issue.code) {
    case "invalid_type": {
      const expected = TOML_TYPE[issue.expected] ?? issue.expected;
      if (found === undefined) return `is required (expected ${expected})`;
      return `expected ${expected}, found ${describeValue(found)}`;
    }
    case "invalid_value":
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}, found ${describeValue(found)}`;
    case "too_small":
    case "too_big": {
      const bound = issue.code === "too_small" ? issue.minimum : issue.maximum;
      const rel =
        issue.code === "too_small"
          ? issue.inclusive === false
            ? "more than"
            : "at least"
          : issue.inclusive === false
            ? "less than"
            : "at most";
      const unit =
        issue.origin === "string"
          ? " characters"
          : issue.origin === "array" || issue.origin === "set"
            ? " entries"
            : "";
      const size =
        typeof found === "string" || Array.isArray(found) ? ` (${found.length}${unit})` : "";
      return `expected ${rel} ${String(bound)}${unit}, found ${describeValue(found)}${size}`;
    }
    case "invalid_format":
      // The schema's own messages say what is expected ("must be …"); zod's generic one
      // ("Invalid string: must match pattern …") is replaced by what was expected.
      return `${issue.message.startsWith("Invalid string") ? `expected ${issue.format === "regex" && "pattern" in issue ? `a string matching ${String(issue.pattern)}` : `a valid ${issue.format}`}` : issue.message}, found ${describeValue(found)}`;
    default:
      // Custom refusals often quote the value already.
      return found === undefined ||
        (typeof found === "string" && issue.message.includes(JSON.stringify(found)))
        ? issue.message
        : `${issue.message}; found ${describeValue(found)}`;
  }
}

/** Known keys of the object schema at a path, for "did you mean" hints. */
export type KeysAt = (path: readonly PropertyKey[]) => string[];

export function problemsFromZod(error: z.ZodError, keysAt: KeysAt): Problem[] {
  const problems: Problem[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      const known = keysAt(issue.path);
      for (const key of issue.keys) {
        const path = formatPath([...issue.path, key]);
        const guess = closest(key, known);
        problems.push({
          path,
          message: `unknown key "${key}"`,
          hint: guess ? `did you mean "${guess}"?` : `known keys here: ${known.join(", ")}`,
        });
      }
      continue;
    }
    const path = formatPath(issue.path);
    const hint = hintFor(path);
    const message = messageOf(issue);
    problems.push(hint ? { path, message, hint } : { path, message });
  }
  return problems;
}

export function formatProblems(file: string, problems: readonly Problem[]): string {
  return problems
    .map((p) => `${file}: ${p.path}: ${p.message}${p.hint ? `\n  hint: ${p.hint}` : ""}`)
    .join("\n");
}

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
    let message = issue.message;
    if (issue.code === "invalid_type" && issue.input === undefined) message = "is required";
    const hint = hintFor(path);
    problems.push(hint ? { path, message, hint } : { path, message });
  }
  return problems;
}

export function formatProblems(file: string, problems: readonly Problem[]): string {
  return problems
    .map((p) => `${file}: ${p.path}: ${p.message}${p.hint ? `\n  hint: ${p.hint}` : ""}`)
    .join("\n");
}

// Reads the mount table, to prove that nothing is mounted under a build directory before
// anything there is deleted, and to find mounts a killed build may have left behind.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";

/** Unescapes the octal escapes (\040 for space…) used in /proc/self/mountinfo. */
function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, oct: string) =>
    String.fromCharCode(Number.parseInt(oct, 8)),
  );
}

export async function mountPoints(): Promise<string[]> {
  const text = await readFile("/proc/self/mountinfo", "utf8");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => unescapeOctal(line.split(" ")[4] ?? ""));
}

/** Mount points at or below dir, deepest first (the order to unmount them in). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const base = resolve(dir);
  const all = await mountPoints();
  return all
    .filter((m) => m === base || m.startsWith(`${base}/`))
    .sort((a, b) => b.length - a.length);
}

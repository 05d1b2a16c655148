// SHA256SUMS: one per output folder, in sha256sum's format ("<hex>  <name>"), readable by
// `sha256sum -c`. Several ISOs may share a folder, so a release rewrites only its own lines and
// keeps the others; the file is written under a temp name and renamed into place.
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

export const SUMS_NAME = "SHA256SUMS";

export interface SumEntry {
  name: string;
  sha256: string;
}

/** Parses sha256sum output; lines it cannot read are kept verbatim by `mergeSums`. */
export function parseSums(text: string): { entries: SumEntry[]; other: string[] } {
  const entries: SumEntry[] = [];
  const other: string[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (m?.[1] && m[2]) entries.push({ sha256: m[1], name: m[2] });
    else other.push(line);
  }
  return { entries, other };
}

/** The new file: existing lines for other names, ours replacing any with the same name, sorted. */
export function mergeSums(existing: string, ours: SumEntry[]): string {
  const { entries, other } = parseSums(existing);
  const mine = new Set(ours.map((e) => e.name));
  const all = [...entries.filter((e) => !mine.has(e.name)), ...ours].sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  return [...other, ...all.map((e) => `${e.sha256}  ${e.name}`)].map((l) => `${l}\n`).join("");
}

/** Names must be plain file names in the folder: sha256sum -c reads them relative to it. */
function checkName(name: string): void {
  if (
    !name ||
    name.includes("/") ||
    name.includes("\n") ||
    name.includes("\\") ||
    name.startsWith(".")
  )
    throw new Error(`not a plain file name for ${SUMS_NAME}: ${JSON.stringify(name)}`);
}

export async function updateSums(dir: string, ours: SumEntry[]): Promise<string> {
  for (const e of ours) checkName(e.name);
  const path = join(dir, SUMS_NAME);
  const existing = await readFile(path, "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return "";
    throw err;
  });
  const temp = `${path}.partial-${process.pid}`;
  try {
    await writeFile(temp, mergeSums(existing, ours));
    await rename(temp, path);
  } finally {
    await rm(temp, { force: true });
  }
  return path;
}

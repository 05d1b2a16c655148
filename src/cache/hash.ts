// Content hashes for cache keys: strings, files and whole trees (names, modes, link targets and
// contents), so a key changes when an input's content changes, never because a step was renamed.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";

export function sha256(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

export async function hashFile(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** Byte-code caches Python leaves beside modules: never content. */
export const IGNORED_NAMES = new Set(["__pycache__"]);

/** Hash of a directory tree, independent of timestamps and readdir order. */
export async function hashTree(root: string): Promise<string> {
  const h = createHash("sha256");
  const walk = async (rel: string): Promise<void> => {
    const entries = (await readdir(join(root, rel))).filter((n) => !IGNORED_NAMES.has(n)).sort();
    for (const name of entries) {
      const path = join(root, rel, name);
      const st = await lstat(path);
      const relPath = join(rel, name);
      h.update(`${relPath}\0${st.mode.toString(8)}\0`);
      if (st.isSymbolicLink()) h.update(`link:${await readlink(path)}\0`);
      else if (st.isDirectory()) await walk(relPath);
      else if (st.isFile()) h.update(`file:${await hashFile(path)}\0`);
    }
  };
  await walk("");
  return h.digest("hex");
}

/** Stable JSON (sorted keys) so equal values always hash equally. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );
}

export function hashValue(value: unknown): string {
  return sha256(stableJson(value));
}

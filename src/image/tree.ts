// Looking at an image's file tree from outside: paths are resolved the way they would be
// inside the image (as after chroot), so an absolute symlink such as /etc/alternatives/x ->
// /usr/bin/y stays inside the tree instead of reaching the build host's files.
import { lstat, readdir, readlink } from "node:fs/promises";
import { join, posix } from "node:path";

export type EntryKind = "file" | "dir" | "symlink" | "device" | "other" | "missing";

export interface Entry {
  kind: EntryKind;
  /** Host path of the entry (after following links when asked to). */
  hostPath: string;
  /** Path inside the image after following links. */
  imagePath: string;
  size: number;
  /** Link text, for kind "symlink" (only when links are not followed). */
  target?: string;
}

const MAX_LINKS = 40;

function kindOf(st: Awaited<ReturnType<typeof lstat>>): EntryKind {
  if (st.isSymbolicLink()) return "symlink";
  if (st.isDirectory()) return "dir";
  if (st.isFile()) return "file";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "device";
  return "other";
}

/**
 * Looks `path` (absolute, inside the image) up under `root`. With follow (the default), every
 * symlink on the way is followed inside the tree; without it the last component is not.
 */
export async function lookup(root: string, path: string, follow = true): Promise<Entry> {
  let pending = posix.normalize(path).split("/").filter(Boolean);
  let resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const [name, ...rest] = pending;
    pending = rest;
    if (name === undefined || name === ".") continue;
    if (name === "..") {
      resolved.pop();
      continue;
    }
    const imagePath = `/${[...resolved, name].join("/")}`;
    const hostPath = join(root, imagePath);
    let st: Awaited<ReturnType<typeof lstat>>;
    try {
      st = await lstat(hostPath);
    } catch {
      return { kind: "missing", hostPath, imagePath, size: 0 };
    }
    const kind = kindOf(st);
    const last = pending.length === 0;
    if (kind === "symlink" && (follow || !last)) {
      if (++links > MAX_LINKS) return { kind: "other", hostPath, imagePath, size: 0 };
      const target = await readlink(hostPath);
      if (target.startsWith("/")) resolved = [];
      pending = [...target.split("/").filter(Boolean), ...pending];
      continue;
    }
    if (last) {
      const entry: Entry = { kind, hostPath, imagePath, size: Number(st.size) };
      if (kind === "symlink") entry.target = await readlink(hostPath);
      return entry;
    }
    if (kind !== "dir") return { kind: "missing", hostPath, imagePath, size: 0 };
    resolved.push(name);
  }
  const hostPath = join(root, ...resolved);
  return { kind: "dir", hostPath, imagePath: `/${resolved.join("/")}`, size: 0 };
}

/** Names in a directory of the image, sorted; [] when it is missing or not a directory. */
export async function list(root: string, path: string): Promise<string[]> {
  const entry = await lookup(root, path);
  if (entry.kind !== "dir") return [];
  return (await readdir(entry.hostPath)).sort();
}

/** Bytes of all regular files under root, each hard-linked file counted once. */
export async function treeSize(root: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const walk = async (dir: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      const st = await lstat(path);
      if (st.isDirectory()) await walk(path);
      else if (st.isFile()) {
        const id = `${st.dev}:${st.ino}`;
        if (st.nlink > 1) {
          if (seen.has(id)) continue;
          seen.add(id);
        }
        total += st.size;
      }
    }
  };
  await walk(root);
  return total;
}

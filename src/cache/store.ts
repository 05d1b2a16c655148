// The stage cache: each stage's output lives in <cache>/stages/<id>-<key>; it is built in a
// temp dir under <cache>/tmp and renamed into place only when complete, so a killed build
// never leaves a half-written output that a later build would trust. Only the holder of the
// cache's lock (lock.ts) writes or deletes anything here.
import { existsSync } from "node:fs";
import { mkdir, readdir, rename, stat, utimes } from "node:fs/promises";
import { join } from "node:path";
import { safeRemove } from "../mounts/safe-remove.js";
import { type DirUser, processesUsing } from "./users.js";

export interface StaleTemps {
  removed: string[];
  /** Left in place because live processes still use them. */
  kept: { name: string; users: DirUser[] }[];
}

export class StageStore {
  constructor(readonly root: string) {}

  get aptCacheDir(): string {
    return join(this.root, "apt", "archives");
  }

  outputDir(id: string, key: string): string {
    return join(this.root, "stages", `${id}-${key.slice(0, 16)}`);
  }

  has(id: string, key: string): boolean {
    return existsSync(this.outputDir(id, key));
  }

  /** A fresh temp dir for one stage run, named after our pid so stale ones can be found. */
  async makeTemp(id: string): Promise<string> {
    const dir = join(this.root, "tmp", `${id}-${process.pid}-${Date.now().toString(36)}`);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  async commit(tempOut: string, id: string, key: string): Promise<string> {
    const target = this.outputDir(id, key);
    await mkdir(join(this.root, "stages"), { recursive: true });
    if (existsSync(target)) {
      // A forced rebuild: the old output stays valid until the new one is complete.
      const old = join(
        this.root,
        "tmp",
        `replaced-${id}-${process.pid}-${Date.now().toString(36)}`,
      );
      await rename(target, old);
      await rename(tempOut, target);
      await safeRemove(old);
    } else {
      await rename(tempOut, target);
    }
    return target;
  }

  /** Marks an output as used now, so pruning keeps the most recently used ones. */
  async touch(id: string, key: string): Promise<void> {
    const now = new Date();
    await utimes(this.outputDir(id, key), now, now);
  }

  /**
   * Deletes old outputs: per stage id it keeps the outputs named in `keep` and the `extra`
   * most recently used others (a quick way back after trying a change). Returns what it removed.
   */
  async prune(keep: ReadonlyMap<string, string>, extra = 1): Promise<string[]> {
    const dir = join(this.root, "stages");
    if (!existsSync(dir)) return [];
    const byId = new Map<string, { name: string; mtime: number }[]>();
    for (const name of await readdir(dir)) {
      const id = name.replace(/-[0-9a-f]{16}$/, "");
      const list = byId.get(id) ?? [];
      list.push({ name, mtime: (await stat(join(dir, name))).mtimeMs });
      byId.set(id, list);
    }
    const removed: string[] = [];
    for (const [id, list] of byId) {
      const current = keep.get(id);
      const others = list
        .filter((e) => !current || e.name !== `${id}-${current.slice(0, 16)}`)
        .sort((a, b) => b.mtime - a.mtime);
      for (const e of others.slice(extra)) {
        await safeRemove(join(dir, e.name));
        removed.push(e.name);
      }
    }
    return removed;
  }

  /**
   * Removes temp dirs that builds no longer running left behind (e.g. killed with SIGKILL).
   * Called with the cache's lock held, before this build made any: so every temp dir belongs to
   * a build that has ended, whatever pid its name carries (pids are reused). A dir that a live
   * process still uses (a tool that survived its build, a mount in its namespace) is kept. Right
   * after a SIGKILL the killed build's tools are still being taken down by the kernel (we get
   * the lock at once), so users get `graceMs` to go away first.
   */
  async removeStaleTemps(graceMs = 10_000): Promise<StaleTemps> {
    const tmp = join(this.root, "tmp");
    const result: StaleTemps = { removed: [], kept: [] };
    if (!existsSync(tmp)) return result;
    const deadline = Date.now() + graceMs;
    for (const name of await readdir(tmp)) {
      let users = await processesUsing(join(tmp, name));
      while (users.length > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        users = await processesUsing(join(tmp, name));
      }
      if (users.length > 0) {
        result.kept.push({ name, users });
        continue;
      }
      await safeRemove(join(tmp, name));
      result.removed.push(name);
    }
    return result;
  }
}

// The stage cache: each stage's output lives in <cache>/stages/<id>-<key>; it is built in a
// temp dir under <cache>/tmp and renamed into place only when complete, so a killed build
// never leaves a half-written output that a later build would trust.
import { existsSync } from "node:fs";
import { mkdir, readdir, rename } from "node:fs/promises";
import { join } from "node:path";
import { safeRemove } from "../mounts/safe-remove.js";

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
    await rename(tempOut, target);
    return target;
  }

  /** Removes temp dirs of builds that are no longer running (e.g. killed with SIGKILL). */
  async removeStaleTemps(): Promise<string[]> {
    const tmp = join(this.root, "tmp");
    if (!existsSync(tmp)) return [];
    const removed: string[] = [];
    for (const name of await readdir(tmp)) {
      const pid = Number(/-(\d+)-[a-z0-9]+$/.exec(name)?.[1]);
      if (pid && pid !== process.pid && isAlive(pid)) continue;
      await safeRemove(join(tmp, name));
      removed.push(name);
    }
    return removed;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LOCK_NAME, lockCache } from "../../src/cache/lock.js";
import { StageStore } from "../../src/cache/store.js";
import { processesUsing } from "../../src/cache/users.js";
import { AtomisoError } from "../../src/errors.js";
import { spawnProcess } from "../../src/tools/spawn.js";

const work = await mkdtemp(join(tmpdir(), "atomiso-lock-test-"));
afterAll(() => rm(work, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("cache lock", () => {
  it("lets one holder in; a second one refuses (naming the holder) or waits for the release", async () => {
    const cache = join(work, "a");
    const first = await lockCache(cache);
    expect(await readFile(join(cache, LOCK_NAME), "utf8")).toContain(`atomiso pid ${process.pid}`);

    const refused = await lockCache(cache, { noWait: true }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AtomisoError);
    expect((refused as AtomisoError).code).toBe("cache-locked");
    expect((refused as AtomisoError).message).toContain(`atomiso pid ${process.pid}`);

    const told: string[] = [];
    let got = false;
    const second = lockCache(cache, { onWait: (h) => told.push(h) }).then((l) => {
      got = true;
      return l;
    });
    await sleep(500);
    expect(got).toBe(false);
    expect(told).toHaveLength(1);
    expect(told[0]).toContain(`atomiso pid ${process.pid}`);
    await first.release();
    const lock = await second;
    expect(got).toBe(true);
    await lock.release();
  });

  it("follows the lock file when the holder deleted it (clean --all) before releasing", async () => {
    const cache = join(work, "e");
    const first = await lockCache(cache);
    const told: string[] = [];
    const waiting = lockCache(cache, { onWait: (h) => told.push(h) });
    await sleep(300);
    await rm(cache, { recursive: true });
    await first.release();
    const second = await waiting;
    expect(told).toHaveLength(1);
    // The waiter holds the lock on the file that is there now, so a third build is refused.
    const third = await lockCache(cache, { noWait: true }).catch((e: unknown) => e);
    expect((third as AtomisoError).code).toBe("cache-locked");
    await second.release();
  });

  it("is released by the kernel when its holder is killed with SIGKILL", async () => {
    const cache = join(work, "b");
    await mkdir(cache, { recursive: true });
    // Another process holds the same lock (flock(2) on the same file), then dies by SIGKILL.
    const holder = spawnProcess(["flock", "--exclusive", join(cache, LOCK_NAME), "sleep", "60"]);
    await sleep(300);
    const told: string[] = [];
    const waiting = lockCache(cache, { onWait: (h) => told.push(h) });
    await sleep(300);
    expect(told).toEqual(["another process (it has not said which yet)"]);
    holder.kill("SIGKILL");
    const lock = await waiting;
    await lock.release();
  });
});

describe("stale temp dirs", () => {
  it("waits a moment for a dying user of a stale dir", async () => {
    const store = new StageStore(join(work, "d"));
    const dir = await store.makeTemp("bootstrap");
    const dying = spawnProcess(["sleep", "1"], { cwd: dir });
    await sleep(100);
    const started = Date.now();
    const stale = await store.removeStaleTemps(5000);
    expect(stale.removed).toHaveLength(1);
    expect(Date.now() - started).toBeGreaterThan(500);
    await dying.exited;
  });

  it("finds processes using a dir (cwd, open file) and keeps those dirs; removes the rest", async () => {
    const store = new StageStore(join(work, "c"));
    const busy = await store.makeTemp("bootstrap");
    const open = await store.makeTemp("squashfs-base");
    const idle = await store.makeTemp("iso");
    await writeFile(join(open, "f"), "x");
    const inCwd = spawnProcess(["sleep", "60"], { cwd: busy });
    // flock(1) keeps the file open (not its cwd) while sleep runs.
    const holding = spawnProcess(["flock", "--shared", join(open, "f"), "sleep", "60"]);
    await sleep(300);
    try {
      const users = await processesUsing(busy);
      expect(users.map((u) => [u.pid, u.how])).toEqual([[inCwd.pid, "cwd"]]);
      expect((await processesUsing(open)).some((u) => u.how.startsWith("fd"))).toBe(true);
      const stale = await store.removeStaleTemps(0);
      expect(stale.removed).toEqual([idle.split("/").at(-1)]);
      expect(stale.kept.map((k) => k.name).sort()).toEqual(
        [busy, open].map((d) => d.split("/").at(-1)).sort(),
      );
    } finally {
      inCwd.kill("SIGKILL");
      holding.kill("SIGKILL");
      await Promise.all([inCwd.exited, holding.exited]);
    }
    const after = await store.removeStaleTemps();
    expect(after.removed.sort()).toEqual([busy, open].map((d) => d.split("/").at(-1)).sort());
  });
});

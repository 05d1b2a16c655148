// One build at a time per cache: a flock(2) lock on <cache>/build.lock. The kernel releases it
// when atomiso's file descriptor closes, however atomiso ends (SIGKILL included), so there is no
// stale lock to detect, unlike a pid file. Node has no flock call: util-linux flock(1) locks the
// descriptor we hand it as fd 3, and since flock locks belong to the open file (not to the
// process), the lock stays ours after flock(1) exits. The holder writes its pid, command and
// start time into the file, so a second build can say whom it waits for.
import { type FileHandle, mkdir, open, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { AtomisoError } from "../errors.js";
import { run } from "../tools/exec.js";

export const LOCK_NAME = "build.lock";

export interface CacheLock {
  readonly path: string;
  release(): Promise<void>;
}

export interface LockOptions {
  /** Told once when another process holds the lock, before waiting for it. */
  onWait?: (holder: string) => void;
  /** Refuse instead of waiting. */
  noWait?: boolean;
}

/** Who holds the lock, as its holder described itself (or "another process"). */
export async function lockHolder(path: string): Promise<string> {
  const text = await readFile(path, "utf8").catch(() => "");
  return text.trim() || "another process (it has not said which yet)";
}

async function flockFd(handle: FileHandle, wait: boolean): Promise<boolean> {
  const { exitCode } = await run(["flock", "--exclusive", ...(wait ? [] : ["--nonblock"]), "3"], {
    extraFds: [handle.fd],
    okExitCodes: [0, 1],
    hint: "flock comes with util-linux",
  });
  return exitCode === 0;
}

/** Takes the cache's lock, waiting (with one message) while another build holds it. */
export async function lockCache(cacheDir: string, options: LockOptions = {}): Promise<CacheLock> {
  const once = { ...options };
  for (;;) {
    const lock = await lockOnce(cacheDir, once);
    if (lock) return lock;
    // `atomiso clean --all` deleted the file we waited on: lock the new one.
  }
}

/** The lock, or undefined if the file we locked is no longer the one at the path. */
async function lockOnce(cacheDir: string, options: LockOptions): Promise<CacheLock | undefined> {
  // options.onWait is cleared once called: one message, however often we retry.
  await mkdir(cacheDir, { recursive: true });
  const path = join(cacheDir, LOCK_NAME);
  // Never truncated before we hold the lock: the file says who holds it.
  const handle = await open(path, "a+");
  try {
    if (!(await flockFd(handle, false))) {
      const holder = await lockHolder(path);
      if (options.noWait) {
        throw new AtomisoError(
          "cache-locked",
          `the cache ${cacheDir} is in use by ${holder}`,
          `wait for it to finish, or use another cache with --cache-dir`,
        );
      }
      options.onWait?.(holder);
      options.onWait = undefined;
      await flockFd(handle, true);
    }
    const [held, current] = await Promise.all([handle.stat(), stat(path).catch(() => undefined)]);
    if (!current || current.ino !== held.ino || current.dev !== held.dev) {
      await handle.close();
      return undefined;
    }
    await handle.truncate(0);
    const self = `atomiso pid ${process.pid} (${process.argv.slice(1).join(" ")}), since ${new Date().toISOString()}`;
    await handle.write(`${self}\n`, 0);
  } catch (err) {
    await handle.close();
    throw err;
  }
  return {
    path,
    async release() {
      await handle.truncate(0).catch(() => undefined);
      await handle.close();
    },
  };
}

/** Runs fn while holding the cache's lock. */
export async function withCacheLock<T>(
  cacheDir: string,
  options: LockOptions,
  fn: () => Promise<T>,
): Promise<T> {
  const lock = await lockCache(cacheDir, options);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

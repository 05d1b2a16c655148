import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeExit, spawnProcess, stopSpawnedChildren } from "../../src/tools/spawn.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "atomiso-spawn-test-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("spawnProcess", () => {
  it("does not wait for the process, logs its output, and stops it", async () => {
    const logFile = join(dir, "out.log");
    const lines: string[] = [];
    const proc = spawnProcess(["sh", "-c", "echo hello; echo oops >&2; exec sleep 30"], {
      logFile,
      onLine: (l, s) => lines.push(`${s}:${l}`),
    });
    expect(proc.pid).toBeTypeOf("number");
    await new Promise((r) => setTimeout(r, 300));
    expect(proc.exitInfo).toBeUndefined();
    const info = await proc.stop(2000);
    expect(info.signal).toBe("SIGTERM");
    expect(describeExit(info)).toBe("killed by SIGTERM");
    expect(lines).toEqual(expect.arrayContaining(["stdout:hello", "stderr:oops"]));
    const log = await readFile(logFile, "utf8");
    expect(log).toContain("hello");
    expect(log).toContain("oops");
  });

  it("reports exit status and programs that are not installed", async () => {
    const done = await spawnProcess(["sh", "-c", "exit 3"]).exited;
    expect(done).toEqual({ exitCode: 3, signal: undefined, startError: undefined });
    const missing = await spawnProcess(["atomiso-no-such-program-xyz"]).exited;
    expect(missing.startError).toMatch(/not installed/);
  });

  it("escalates to SIGKILL and stops every tracked child", async () => {
    const stubborn = spawnProcess(["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"]);
    const other = spawnProcess(["sleep", "30"]);
    await new Promise((r) => setTimeout(r, 200));
    await stopSpawnedChildren(500);
    expect(stubborn.exitInfo?.signal).toBe("SIGKILL");
    expect(other.exitInfo?.signal).toBe("SIGTERM");
  });
});

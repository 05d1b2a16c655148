import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../src/paths.js";
import { run } from "../../src/tools/exec.js";
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

// The watchdog and the image mount it protects, in a real atomiso process (the compiled code in
// dist/) that is then killed: what Ctrl-C on `atomiso image lint` does, or SIGKILL.
describe.skipIf(process.getuid?.() !== 0)("an image mount outlives no signal", () => {
  const image = "localhost/atomiso-test/watchdog:latest";
  let work: string;
  beforeAll(async () => {
    execFileSync(join(packageRoot, "node_modules/.bin/tsc"), [
      "-p",
      join(packageRoot, "tsconfig.json"),
    ]);
    work = await mkdtemp(join(tmpdir(), "atomiso-watchdog-test-"));
    await mkdir(join(work, "root/etc"), { recursive: true });
    await writeFile(join(work, "root/etc/hostname"), "watchdog\n");
    await run(["tar", "-C", join(work, "root"), "-cf", join(work, "root.tar"), "."]);
    await run(["podman", "import", join(work, "root.tar"), image]);
  }, 120_000);
  afterAll(async () => {
    await run(["podman", "rmi", "--force", image], { okExitCodes: [0, 1, 2] });
    await rm(work, { recursive: true, force: true });
  });

  /** A node process running `script` (ES module, argv[1..] = args). */
  function child(script: string, args: string[]) {
    const proc = execa("node", ["--input-type=module", "-e", script, "--", ...args], {
      reject: false,
      all: true,
      env: { ATOMISO_TREE_MARKER: args[0] },
    });
    let out = "";
    proc.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    /** Resolves with the first line the process prints. */
    const firstLine = async () => {
      for (let i = 0; i < 300 && !out.includes("\n"); i++) {
        if (proc.exitCode !== null && proc.exitCode !== undefined) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      return out.split("\n")[0] ?? "";
    };
    return Object.assign(proc, { firstLine });
  }

  const mounted = async (path: string) =>
    (await readFile("/proc/self/mountinfo", "utf8"))
      .split("\n")
      .some((l) => l.split(" ")[4] === path);

  it("runs the watchdog's undo when atomiso is SIGKILLed, and not once it is disarmed", async () => {
    const script = `const { armWatchdog } = await import(${JSON.stringify(join(packageRoot, "dist/tools/spawn.js"))});
      const dog = armWatchdog(["touch", process.argv[1]]);
      if (process.argv[2] === "disarm") { await dog.disarm(); console.log("disarmed"); }
      else { console.log("armed"); setInterval(() => {}, 1000); }`;
    const killed = join(work, "killed");
    const proc = child(script, [killed, "wait"]);
    expect(await proc.firstLine()).toBe("armed");
    proc.kill("SIGKILL");
    await proc;
    for (let i = 0; i < 50 && !existsSync(killed); i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(killed)).toBe(true);
    const calm = join(work, "disarmed");
    const done = await child(script, [calm, "disarm"]);
    expect(done.all).toContain("disarmed");
    await new Promise((r) => setTimeout(r, 500));
    expect(existsSync(calm)).toBe(false);
  });

  it("takes down a tool's whole process tree (double forks too) when atomiso is SIGKILLed", async () => {
    // Two tools: one through exec.ts in the namespace wrapper (forks a daemon-like grandchild),
    // one through spawn.ts. They inherit a marker in their environment, found in /proc after.
    const marker = `atomiso-tree-${process.pid}-${Date.now()}`;
    const script = `const { run } = await import(${JSON.stringify(join(packageRoot, "dist/tools/exec.js"))});
      const { spawnProcess } = await import(${JSON.stringify(join(packageRoot, "dist/tools/spawn.js"))});
      const { inPrivateMountNamespace } = await import(${JSON.stringify(join(packageRoot, "dist/tools/namespace.js"))});
      void run(inPrivateMountNamespace(["sh", "-c", "(setsid sleep 300 &) ; exec sleep 301"]));
      spawnProcess(["sleep", "302"]);
      setTimeout(() => console.log("started"), 500);
      setInterval(() => {}, 1000);`;
    const proc = child(script, [marker]);
    expect(await proc.firstLine()).toBe("started");
    const withMarker = async () => {
      const found: string[] = [];
      for (const pid of (await readdir("/proc")).filter((n) => /^\d+$/.test(n))) {
        const env = await readFile(`/proc/${pid}/environ`, "utf8").catch(() => "");
        const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
        if (cmd.startsWith("sleep") && env.includes(`ATOMISO_TREE_MARKER=${marker}`))
          found.push(cmd.replace(/\0/g, " "));
      }
      return found;
    };
    expect((await withMarker()).sort()).toEqual(["sleep 300 ", "sleep 301 ", "sleep 302 "]);
    proc.kill("SIGKILL");
    await proc;
    let left = await withMarker();
    for (let i = 0; i < 50 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = await withMarker();
    }
    expect(left).toEqual([]);
  });

  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP", "SIGKILL"] as const) {
    it(`unmounts an image mounted like \`image lint\` does when atomiso gets ${signal}`, async () => {
      const script = `const { withMountedImage } = await import(${JSON.stringify(join(packageRoot, "dist/image/inspect.js"))});
        setInterval(() => {}, 1000);
        await withMountedImage(process.argv[1], async (root) => { console.log(root); await new Promise(() => {}); });`;
      const proc = child(script, [image]);
      const root = await proc.firstLine();
      expect(root, (proc.exitCode ?? undefined) === undefined ? "" : (await proc).all).toMatch(
        /^\//,
      );
      expect(await mounted(root)).toBe(true);
      proc.kill(signal);
      await proc;
      let still = true;
      for (let i = 0; i < 100 && still; i++) {
        await new Promise((r) => setTimeout(r, 100));
        still = await mounted(root);
      }
      expect(still, `${root} still mounted after ${signal}`).toBe(false);
    }, 60_000);
  }
});

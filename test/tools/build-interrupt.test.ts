// A killed build leaves nothing behind: the real `atomiso build` of the example profile (without
// payload) is killed with SIGINT, SIGTERM, SIGHUP and SIGKILL while mmdebstrap installs packages
// (its namespace has /proc, /dev… mounted in the cache), while mksquashfs compresses and while
// xorriso packs the ISO. After each kill no process the build started is alive, no process
// (in any mount namespace) has a mount, working directory, root or open file in the cache, and
// the next build succeeds. A second build on the same cache waits for the first and says so.
//
// Own cache dir (ATOMISO_INTERRUPT_CACHE, default /var/cache/atomiso-interrupt-test): its
// package cache is seeded with hard links from the shared cache's .debs (read only), and it is
// kept between runs, so a warm run only rebuilds what it kills (`--rebuild` builds in tmp/ and
// renames; a killed one leaves the cached output as it was).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import {
  cp,
  link,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processesUsing } from "../../src/cache/users.js";
import { defaultCacheDir, packageRoot } from "../../src/paths.js";

const CACHE = process.env.ATOMISO_INTERRUPT_CACHE ?? `${defaultCacheDir()}-interrupt-test`;
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGKILL"] as const;
/** Handled signals end the build with 128 + the signal's number, as shells report it. */
const EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
const TOOLS = /^(mmdebstrap|apt|apt-get|dpkg|mksquashfs|xorriso|qemu-system|unshare|setpriv)/;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const timings: string[] = [];

interface Proc {
  pid: number;
  ppid: number;
  comm: string;
  start: string;
}

async function processes(): Promise<Proc[]> {
  const out: Proc[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, "utf8").catch(() => "");
    const close = stat.lastIndexOf(")");
    if (close < 0) continue;
    const fields = stat.slice(close + 2).split(" ");
    out.push({
      pid: Number(name),
      comm: stat.slice(stat.indexOf("(") + 1, close),
      ppid: Number(fields[1]),
      start: fields[19] ?? "",
    });
  }
  return out;
}

function descendants(all: Proc[], root: number): Proc[] {
  const found: Proc[] = [];
  const parents = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of all) {
      if (!parents.has(p.pid) && parents.has(p.ppid)) {
        parents.add(p.pid);
        found.push(p);
        grew = true;
      }
    }
  }
  return found;
}

async function mountsUnderCache(pid: number): Promise<string[]> {
  const info = await readFile(`/proc/${pid}/mountinfo`, "utf8").catch(() => "");
  return info
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .filter((m) => m === CACHE || m.startsWith(`${CACHE}/`));
}

/**
 * Everything left of a build: its processes still alive, anything using or mounted in the cache
 * (except the process tree of `other`, a build that waited for this one and runs now).
 */
async function leftovers(seen: Map<string, Proc>, other?: number): Promise<string[]> {
  const alive = await processes();
  const excluded = new Set(
    other === undefined ? [] : [other, ...descendants(alive, other).map((p) => p.pid)],
  );
  const found: string[] = [];
  for (const p of alive) {
    if (excluded.has(p.pid)) continue;
    if (seen.has(`${p.pid}:${p.start}`)) found.push(`${p.comm} (pid ${p.pid}) of the build`);
    else if (TOOLS.test(p.comm)) {
      const cmdline = await readFile(`/proc/${p.pid}/cmdline`, "utf8").catch(() => "");
      const environ = await readFile(`/proc/${p.pid}/environ`, "utf8").catch(() => "");
      if (cmdline.includes(CACHE) || environ.includes(CACHE))
        found.push(`${p.comm} (pid ${p.pid}) names the cache`);
    }
  }
  for (const u of await processesUsing(CACHE))
    if (!excluded.has(u.pid)) found.push(`${u.name} (pid ${u.pid}) uses the cache: ${u.how}`);
  return [...new Set(found)];
}

let profile: string;
let work: string;

function atomiso(args: string[]): ResultPromise<{ all: true; reject: false }> {
  return execa(
    "node",
    [join(packageRoot, "bin/atomiso.js"), "--cache-dir", CACHE, "--config", profile, ...args],
    { all: true, reject: false, env: { ATOMISO_LOG: "plain" } },
  );
}

interface Killed {
  signal: string;
  exitCode: number | undefined;
  output: string;
  /** Seconds from start until the kill point was reached. */
  readyAfter: number;
  /** Seconds from the kill until the build's node process had ended and nothing was left. */
  goneAfter: number;
}

/**
 * Starts a build, waits until `ready` says the kill point is reached (given the build's live
 * process tree), kills the build's node process with `signal`, and checks that nothing is left.
 */
async function killAt(
  args: string[],
  signal: (typeof SIGNALS)[number],
  ready: (tree: Proc[]) => Promise<boolean>,
  beforeKill?: (pid: number) => Promise<number | undefined>,
): Promise<Killed> {
  const started = Date.now();
  const build = atomiso(args);
  const pid = build.pid as number;
  const seen = new Map<string, Proc>();
  let exited = false;
  void build.then(() => {
    exited = true;
  });
  for (;;) {
    if (exited) throw new Error(`the build ended before the kill point:\n${(await build).all}`);
    if (Date.now() - started > 240_000) {
      build.kill("SIGKILL");
      throw new Error("the kill point was not reached within 240 s");
    }
    const tree = descendants(await processes(), pid);
    for (const p of tree) seen.set(`${p.pid}:${p.start}`, p);
    if (await ready(tree)) break;
    await sleep(100);
  }
  const readyAfter = (Date.now() - started) / 1000;
  const other = await beforeKill?.(pid);
  // One last look, so that processes started just now count as the build's too.
  for (const p of descendants(await processes(), pid)) seen.set(`${p.pid}:${p.start}`, p);
  const killedAt = Date.now();
  process.kill(pid, signal);
  const result = await build;
  // SIGKILL needs no cleanup by us: give the kernel a moment to reap the namespaces.
  let left: string[] = [];
  for (let i = 0; i < 50; i++) {
    left = await leftovers(seen, other);
    if (left.length === 0) break;
    await sleep(200);
  }
  expect(left, `left behind after ${signal}`).toEqual([]);
  const goneAfter = (Date.now() - killedAt) / 1000;
  return { signal, exitCode: result.exitCode, output: result.all ?? "", readyAfter, goneAfter };
}

async function tmpEntries(): Promise<string[]> {
  return readdir(join(CACHE, "tmp")).catch(() => []);
}

async function buildOk(args: string[], what: string): Promise<string> {
  const started = Date.now();
  const result = await atomiso(args);
  timings.push(`${what}: ${((Date.now() - started) / 1000).toFixed(1)}s`);
  expect(result.exitCode, result.all).toBe(0);
  expect(await tmpEntries()).toEqual([]);
  return result.all ?? "";
}

function checkKilled(k: Killed, what: string): void {
  timings.push(
    `${what} ${k.signal}: killed after ${k.readyAfter.toFixed(1)}s, all gone ${k.goneAfter.toFixed(1)}s later`,
  );
  if (k.signal === "SIGKILL") return;
  expect(k.exitCode, k.output).toBe(EXIT[k.signal]);
  expect(k.output).toContain(`build interrupted by ${k.signal}`);
}

const hasComm = (tree: Proc[], re: RegExp) => tree.some((p) => re.test(p.comm));

describe.skipIf(process.getuid?.() !== 0)("a killed build leaves nothing behind", () => {
  beforeAll(async () => {
    // The CLI runs from dist/: compile this tree first.
    execFileSync(join(packageRoot, "node_modules/.bin/tsc"), [
      "-p",
      join(packageRoot, "tsconfig.json"),
    ]);
    // The example profile, two folders deep like the original (its paths to ../../oci hold), and
    // writing its ISO here rather than next to the example's.
    await mkdir(join(packageRoot, "test-artifacts"), { recursive: true });
    work = await mkdtemp(join(packageRoot, "test-artifacts", "interrupt-"));
    await cp(join(packageRoot, "examples/particleos"), work, {
      recursive: true,
      filter: (src) => !/\/(out|atomiso\.lock)$/.test(src),
    });
    profile = join(work, "atomiso.toml");
    const toml = await readFile(profile, "utf8");
    await writeFile(
      profile,
      toml.replace(/^\[iso\]\n/m, '[iso]\noutput = "out/interrupt-test.iso"\n'),
    );
    // Seed the package cache from the shared one (hard links; the shared files are not touched).
    const shared = join(defaultCacheDir(), "apt", "archives");
    const ours = join(CACHE, "apt", "archives");
    await mkdir(ours, { recursive: true });
    if (existsSync(shared)) {
      for (const deb of (await readdir(shared)).filter((n) => n.endsWith(".deb"))) {
        if (!existsSync(join(ours, deb)))
          await link(join(shared, deb), join(ours, deb)).catch(() => undefined);
      }
    }
  }, 120_000);
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
    console.log(`build-interrupt timings:\n  ${timings.join("\n  ")}`);
  });

  it("while mmdebstrap installs packages, with mounts in its namespace", async () => {
    const args = ["build", "--no-payload", "--until", "bootstrap", "--rebuild", "bootstrap"];
    // mmdebstrap has mounted /proc, /dev… into the new root (inside its own namespace).
    const ready = async (tree: Proc[]) => {
      if (!hasComm(tree, /^dpkg$|^apt/)) return false;
      for (const p of tree) if ((await mountsUnderCache(p.pid)).length > 0) return true;
      return false;
    };
    for (const signal of SIGNALS.filter((s) => s !== "SIGKILL")) {
      checkKilled(await killAt(args, signal, ready), "bootstrap");
      expect(await tmpEntries()).toEqual([]);
    }
    // SIGKILL, with a second build waiting for the cache meanwhile: it says whom it waits for,
    // then (the lock released by the kernel) removes the killed build's temp dir and succeeds.
    let second: ReturnType<typeof atomiso> | undefined;
    const killed = await killAt(args, "SIGKILL", ready, async (pid) => {
      second = atomiso(["build", "--no-payload", "--until", "bootstrap"]);
      const deadline = Date.now() + 30_000;
      let out = "";
      second.all?.on("data", (d: Buffer) => {
        out += d.toString();
      });
      while (!out.includes("waiting for the cache") && Date.now() < deadline) await sleep(100);
      expect(out).toContain(`in use by atomiso pid ${pid}`);
      return second.pid;
    });
    checkKilled(killed, "bootstrap");
    const started = Date.now();
    const next = await (second as NonNullable<typeof second>);
    timings.push(`bootstrap (the waiting build): ${((Date.now() - started) / 1000).toFixed(1)}s`);
    expect(next.exitCode, next.all).toBe(0);
    expect(next.all).toContain("removed 1 temp dir(s) left by an interrupted build");
    expect(await tmpEntries()).toEqual([]);
  }, 900_000);

  it("while mksquashfs compresses the base system", async () => {
    await buildOk(["build", "--no-payload", "--until", "squashfs-base"], "squashfs-base");
    const args = [
      "build",
      "--no-payload",
      "--until",
      "squashfs-base",
      "--rebuild",
      "squashfs-base",
    ];
    let since = 0;
    const ready = async (tree: Proc[]) => {
      if (!hasComm(tree, /^mksquashfs$/)) return false;
      since ||= Date.now();
      return Date.now() - since > 1500;
    };
    for (const signal of SIGNALS) {
      since = 0;
      checkKilled(await killAt(args, signal, ready), "squashfs");
    }
    const out = await buildOk(
      ["build", "--no-payload", "--until", "squashfs-base"],
      "after the squashfs kills",
    );
    expect(out).toContain("removed 1 temp dir(s)");
  }, 900_000);

  it("while xorriso packs the ISO, and the next build makes the ISO", async () => {
    await buildOk(["build", "--no-payload", "--until", "boot-files"], "stages before the ISO");
    const args = ["build", "--no-payload", "--rebuild", "iso"];
    for (const signal of SIGNALS) {
      checkKilled(await killAt(args, signal, async (tree) => hasComm(tree, /^xorriso$/)), "iso");
    }
    await buildOk(["build", "--no-payload", "--rebuild", "iso"], "the ISO after the kills");
    // --no-payload: never the installable ISO's name (planIso's noPayloadName).
    const iso = join(work, "out/interrupt-test-nopayload.iso");
    expect(existsSync(iso)).toBe(true);
    // The build's output is a file it made, not a link into the cache it could lose.
    await readlink(iso).then(
      () => expect.fail("the ISO is a symlink"),
      () => undefined,
    );
  }, 900_000);
});

// The local development registry (`atomiso registry start|stop|status`): Debian's
// docker-registry on 127.0.0.1, its storage in the cache dir, run as a daemon by
// start-stop-daemon with a pid file. It is the one process atomiso starts that outlives the
// command, on purpose: the user starts it, pushes to it, and stops it with `registry stop`.
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AtomisoError } from "../errors.js";
import { run } from "../tools/exec.js";
import { isAlive } from "../tools/process-alive.js";

export const REGISTRY_PROGRAM = "/usr/bin/docker-registry";

export interface DevRegistry {
  /** host:port it listens on (always on 127.0.0.1). */
  addr: string;
  dir: string;
  configFile: string;
  pidFile: string;
  logFile: string;
}

export function devRegistry(cacheDir: string, port = 5000): DevRegistry {
  const dir = join(cacheDir, "registry");
  return {
    addr: `127.0.0.1:${port}`,
    dir,
    configFile: join(dir, "config.yml"),
    pidFile: join(dir, "registry.pid"),
    logFile: join(dir, "registry.log"),
  };
}

/** docker-registry's configuration (paths quoted as JSON strings, which YAML reads as is). */
export function registryConfig(r: DevRegistry): string {
  return `version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: ${JSON.stringify(join(r.dir, "storage"))}
  delete:
    enabled: true
http:
  addr: ${JSON.stringify(r.addr)}
`;
}

/** True when something answers the registry API at addr. */
export async function registryAnswers(addr: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${addr}/v2/`, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.status === 200 || res.status === 401;
  } catch {
    return false;
  }
}

function daemonArgv(r: DevRegistry, action: string[]): string[] {
  return ["start-stop-daemon", ...action, "--pidfile", r.pidFile, "--exec", REGISTRY_PROGRAM];
}

export interface RegistryStatus {
  /** Our daemon (the pid in the pid file) is running. */
  running: boolean;
  pid: number | undefined;
  /** Something answers the registry API at addr (ours or another). */
  answers: boolean;
}

export async function registryStatus(r: DevRegistry): Promise<RegistryStatus> {
  let running = false;
  let pid: number | undefined;
  if (existsSync(r.pidFile)) {
    // --status: 0 running, 1 dead but pid file left, 3 not running, 4 unknown.
    const { exitCode } = await run(daemonArgv(r, ["--status"]), { okExitCodes: [0, 1, 3, 4] });
    running = exitCode === 0;
    if (running) pid = Number.parseInt(await readFile(r.pidFile, "utf8"), 10);
  }
  return { running, pid, answers: await registryAnswers(r.addr) };
}

async function writeRegistryConfig(r: DevRegistry): Promise<void> {
  await mkdir(join(r.dir, "storage"), { recursive: true });
  await writeFile(`${r.configFile}.tmp`, registryConfig(r));
  await rename(`${r.configFile}.tmp`, r.configFile);
}

/**
 * Runs the registry in the foreground until it is stopped (SIGINT/SIGTERM to atomiso): for a
 * container that only serves the registry, e.g. beside the builder container.
 */
export async function serveRegistry(r: DevRegistry, onLine: (line: string) => void): Promise<void> {
  if (await registryAnswers(r.addr)) {
    throw new AtomisoError(
      "registry-error",
      `a registry already answers on ${r.addr}`,
      "use it, or stop it first (atomiso registry stop)",
    );
  }
  await writeRegistryConfig(r);
  await run([REGISTRY_PROGRAM, "serve", r.configFile], { onLine });
}

export type StartOutcome = "started" | "already-running" | "other-registry";

export async function startRegistry(r: DevRegistry, timeoutMs = 15_000): Promise<StartOutcome> {
  const status = await registryStatus(r);
  if (status.running) return "already-running";
  if (status.answers) return "other-registry";
  if (!existsSync(REGISTRY_PROGRAM)) {
    throw new AtomisoError(
      "tool-missing",
      `${REGISTRY_PROGRAM} is not installed, so no local registry can be started`,
      "apt-get install docker-registry (or push to another registry: image.reference)",
    );
  }
  await writeRegistryConfig(r);
  await run([
    ...daemonArgv(r, ["--start", "--background", "--make-pidfile", "--output", r.logFile]),
    "--",
    "serve",
    r.configFile,
  ]);
  // The pid file names the forked daemon; right after the fork it may not have exec'd
  // docker-registry yet (so --status --exec would call it not running): watch the pid itself.
  const pid = Number.parseInt(await readFile(r.pidFile, "utf8"), 10);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await registryAnswers(r.addr)) return "started";
    if (!isAlive(pid)) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  await stopRegistry(r);
  const log = existsSync(r.logFile) ? (await readFile(r.logFile, "utf8")).trim() : "";
  throw new AtomisoError(
    "registry-error",
    `the local registry did not start on ${r.addr}${log ? `:\n${log.split("\n").slice(-10).join("\n")}` : ""}`,
    `see ${r.logFile}; is the port taken (ss -ltnp)?`,
  );
}

/** Stops our daemon; false when it was not running. */
export async function stopRegistry(r: DevRegistry): Promise<boolean> {
  if (!existsSync(r.pidFile)) return false;
  const { running } = await registryStatus(r);
  await run(daemonArgv(r, ["--stop", "--retry", "TERM/10/KILL/5", "--remove-pidfile", "--oknodo"]));
  return running;
}

/** The port of a reference on atomiso's own development registry (127.0.0.1:PORT or
 *  localhost:PORT), else undefined: a remote registry is not ours to start. */
export function devRegistryPort(reference: string): number | undefined {
  const m = /^(?:127\.0\.0\.1|localhost):(\d{1,5})\//.exec(reference);
  return m?.[1] ? Number(m[1]) : undefined;
}

/**
 * Runs `fn` with the development registry answering for `reference` when the reference is on
 * it: started for the call and stopped after when nothing answered, left alone when one
 * already did (a developer's own `atomiso registry start`). What `.ci/example-iso` does for
 * the quick start, for code that builds an ISO itself (the bench).
 */
export async function withDevRegistryFor<T>(
  reference: string,
  cacheDir: string,
  fn: () => Promise<T>,
): Promise<T> {
  const port = devRegistryPort(reference);
  if (port === undefined) return fn();
  const r = devRegistry(cacheDir, port);
  if (await registryAnswers(r.addr)) return fn();
  const outcome = await startRegistry(r);
  try {
    return await fn();
  } finally {
    if (outcome === "started") await stopRegistry(r);
  }
}

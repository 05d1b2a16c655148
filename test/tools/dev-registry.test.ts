// `atomiso registry start|stop|status`: the real docker-registry as a daemon on a free port,
// its storage and pid file in a temp cache dir; a taken port fails with a clear error and
// leaves no process behind.
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AtomisoError } from "../../src/errors.js";
import {
  devRegistry,
  devRegistryPort,
  registryAnswers,
  registryStatus,
  serveRegistry,
  startRegistry,
  stopRegistry,
  withDevRegistryFor,
} from "../../src/registry/dev-registry.js";
import { stopAllChildren } from "../../src/tools/exec.js";
import { isAlive } from "../../src/tools/process-alive.js";

async function listen(): Promise<Server> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

let cache: string;
beforeAll(async () => {
  cache = await mkdtemp(join(tmpdir(), "atomiso-dev-registry-"));
});
afterAll(async () => {
  await stopRegistry(devRegistry(cache));
  await rm(cache, { recursive: true, force: true });
});

describe("the local development registry", () => {
  it("starts, answers, reports its status and stops", async () => {
    const probe = await listen();
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const r = devRegistry(cache, port);

    expect(await registryStatus(r)).toEqual({ running: false, pid: undefined, answers: false });
    expect(await startRegistry(r)).toBe("started");
    const status = await registryStatus(r);
    expect(status).toMatchObject({ running: true, answers: true });
    expect(Number(await readFile(r.pidFile, "utf8"))).toBe(status.pid);
    expect(await readFile(r.configFile, "utf8")).toContain(`addr: "127.0.0.1:${port}"`);
    expect(existsSync(join(cache, "registry/storage"))).toBe(true);
    expect(await startRegistry(r)).toBe("already-running");
    // Another cache dir, same port: that registry answers, so it is used, not started twice.
    expect(await startRegistry(devRegistry(join(cache, "other"), port))).toBe("other-registry");

    expect(await stopRegistry(r)).toBe(true);
    // Gone (start-stop-daemon waits for it); init reaps the exited daemon a moment later.
    const deadline = Date.now() + 5000;
    while (isAlive(status.pid as number) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(isAlive(status.pid as number)).toBe(false);
    expect(existsSync(r.pidFile)).toBe(false);
    expect(await registryAnswers(r.addr)).toBe(false);
    expect(await stopRegistry(r)).toBe(false);
  });

  it("serves in the foreground until its tools are stopped (registry start --foreground)", async () => {
    const probe = await listen();
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const r = devRegistry(join(cache, "fg"), port);
    const lines: string[] = [];
    const serving = serveRegistry(r, (l) => lines.push(l)).catch((e: unknown) => e);
    const deadline = Date.now() + 15_000;
    while (!(await registryAnswers(r.addr)) && Date.now() < deadline)
      await new Promise((res) => setTimeout(res, 100));
    expect(await registryAnswers(r.addr)).toBe(true);
    expect(existsSync(r.pidFile)).toBe(false);
    await stopAllChildren(2000);
    expect(String(await serving)).toMatch(/killed by SIGTERM/);
    expect(await registryAnswers(r.addr)).toBe(false);
    expect(lines.join("\n")).toContain("GET /v2/");
  });

  it("answers for a reference on it during a call, and only then (the bench's ISO build)", async () => {
    const probe = await listen();
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const r = devRegistry(join(cache, "with"), port);
    const reference = `127.0.0.1:${port}/particleos/system:0.1.0`;
    expect(devRegistryPort(reference)).toBe(port);
    expect(devRegistryPort(`localhost:${port}/x:1`)).toBe(port);
    expect(devRegistryPort("registry.example.org/x:1")).toBeUndefined();
    expect(devRegistryPort("localhost/x:1")).toBeUndefined();

    const during = await withDevRegistryFor(reference, join(cache, "with"), () =>
      registryAnswers(r.addr),
    );
    expect(during).toBe(true);
    expect(await registryAnswers(r.addr)).toBe(false);
    expect(existsSync(r.pidFile)).toBe(false);

    // One that already answers is used and left running.
    expect(await startRegistry(r)).toBe("started");
    await withDevRegistryFor(reference, join(cache, "with"), async () => undefined);
    expect(await registryAnswers(r.addr)).toBe(true);
    expect(await stopRegistry(r)).toBe(true);
    // A failing call still stops what it started.
    const err = await withDevRegistryFor(reference, join(cache, "with"), async () => {
      throw new Error("build failed");
    }).catch((e: unknown) => e);
    expect(String(err)).toContain("build failed");
    expect(await registryAnswers(r.addr)).toBe(false);
  });

  it("fails clearly when something else holds the port", async () => {
    const busy = await listen();
    try {
      const r = devRegistry(cache, (busy.address() as { port: number }).port);
      // Something listens but does not speak the registry API: docker-registry cannot bind.
      const err = (await startRegistry(r, 10_000).catch((e: unknown) => e)) as AtomisoError;
      expect(err.code).toBe("registry-error");
      expect(err.message).toContain(`did not start on ${r.addr}`);
      expect(err.message).toMatch(/address already in use/);
      expect((await registryStatus(r)).running).toBe(false);
      expect(existsSync(r.pidFile)).toBe(false);
    } finally {
      await new Promise<void>((resolve) => busy.close(() => resolve()));
    }
  });
});

// Debian's docker-registry on 127.0.0.1 for tools tests: started on a free port, optionally
// behind htpasswd Basic auth, and stopped by the pid whose argv names its own config file.
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { run } from "../../src/tools/exec.js";

export interface TestRegistry {
  host: string;
  configPath: string;
  exited: Promise<unknown>;
  output: string[];
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Writes an htpasswd file with one bcrypt user. */
export async function writeHtpasswd(path: string, user: string, password: string): Promise<void> {
  const { stdout } = await run(["htpasswd", "-Bbn", user, password]);
  await writeFile(path, stdout.trim());
}

export async function startRegistry(
  dir: string,
  name: string,
  htpasswd?: string,
): Promise<TestRegistry> {
  const port = await freePort();
  const base = join(dir, name);
  await mkdir(join(base, "storage"), { recursive: true });
  const configPath = join(base, "config.yml");
  const auth = htpasswd ? `auth:\n  htpasswd:\n    realm: ${name}\n    path: ${htpasswd}\n` : "";
  await writeFile(
    configPath,
    `version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: ${join(base, "storage")}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:${port}
  secret: atomiso-test-secret
${auth}`,
  );
  const output: string[] = [];
  const exited = run(["/usr/bin/docker-registry", "serve", configPath], {
    timeoutMs: 30 * 60_000,
    onLine: (line) => output.push(line),
  }).catch((err: unknown) => err);
  const registry: TestRegistry = { host: `127.0.0.1:${port}`, configPath, exited, output };
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (gone) throw new Error(`docker-registry ${name} exited early:\n${output.join("\n")}`);
    try {
      const res = await fetch(`http://${registry.host}/v2/`);
      await res.body?.cancel();
      if (res.status === 200 || res.status === 401) return registry;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      throw new Error(`docker-registry ${name} did not start:\n${output.join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function pidOf(configPath: string): Promise<number | undefined> {
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmdline === `/usr/bin/docker-registry\0serve\0${configPath}\0`) return Number(entry);
  }
  return undefined;
}

export async function stopRegistry(registry: TestRegistry): Promise<void> {
  const pid = await pidOf(registry.configPath);
  if (pid === undefined) return;
  process.kill(pid, "SIGTERM");
  const timer = setTimeout(() => {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }, 5000);
  await registry.exited;
  clearTimeout(timer);
}

/**
 * Copies the (single) image of an OCI image layout into a test registry as `repoTag`, keeping
 * its manifest bytes, so the pushed digest is the layout's (a pin made from one holds for both).
 */
export async function pushLayout(
  layout: string,
  registry: TestRegistry,
  repoTag: string,
): Promise<void> {
  await run([
    "skopeo",
    "--insecure-policy",
    "copy",
    "--preserve-digests",
    "--dest-tls-verify=false",
    `oci:${layout}`,
    `docker://${registry.host}/${repoTag}`,
  ]);
}

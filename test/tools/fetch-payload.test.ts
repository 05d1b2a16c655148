// The online payload helper (installer-scripts/deploy/fetch-payload) against a real registry:
// Debian's docker-registry on 127.0.0.1 holding a tiny image pushed with skopeo. `check` reads
// only the manifest and compares it with the pin; `copy` downloads into a folder that the real
// verify-payload then accepts, exactly like an embedded payload.
import { mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { type RunResult, run } from "../../src/tools/exec.js";
import { pushLayout, startRegistry, stopRegistry, type TestRegistry } from "../support/registry.js";
import { makeTinyLayout } from "../support/tiny-layout.js";

const SCRIPTS = join(import.meta.dirname, "../../installer-scripts/deploy");
const NAME = "atomiso/online-test";

let work: string;
let registry: TestRegistry;
let digest: string;
let source: string;

const fetchPayload = (args: string[]): Promise<RunResult> =>
  run([join(SCRIPTS, "fetch-payload"), ...args], {
    okExitCodes: [0, 1, 2],
    // Keep the host's credentials out of it.
    env: { REGISTRY_AUTH_FILE: join(work, "auth.json") },
    timeoutMs: 120_000,
  });
const lastError = (r: RunResult) => r.stderr.trim().split("\n").at(-1) ?? "";

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "atomiso-fetch-payload-"));
  registry = await startRegistry(work, "online");
  const layout = join(work, "layout");
  digest = await makeTinyLayout(layout, work);
  await pushLayout(layout, registry, `${NAME}:0.1.0`);
  source = `${registry.host}/${NAME}@${digest}`;
});

afterAll(async () => {
  if (registry) await stopRegistry(registry);
  if (work) await safeRemove(work);
});

describe("fetch-payload check", () => {
  it("passes when the registry serves the pinned digest", async () => {
    const r = await fetchPayload(["check", source, digest, "--tls-verify=false"]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`registry ${registry.host} serves ${digest}`);
  });

  it("refuses a registry that serves other content under the pinned reference", async () => {
    const other = `sha256:${"0".repeat(64)}`;
    // The registry does not have that manifest at all.
    const r = await fetchPayload([
      "check",
      `${registry.host}/${NAME}@${other}`,
      other,
      "--tls-verify=false",
    ]);
    expect(r.exitCode).toBe(2);
    expect(lastError(r)).toMatch(
      new RegExp(
        `^atomiso-error: the registry ${registry.host} does not have the pinned image .*@${other} \\(manifest unknown\\)`,
      ),
    );
    // A pin that disagrees with what the registry serves for a reference.
    const wrong = await fetchPayload(["check", source, other, "--tls-verify=false"]);
    expect(wrong.exitCode).toBe(2);
    expect(lastError(wrong)).toBe(
      `atomiso-error: the registry ${registry.host} serves ${digest} for ${source}, not the pinned ${other}; the installer refuses an image it was not built for`,
    );
  });

  it("says what to do when the registry cannot be reached", async () => {
    const r = await fetchPayload([
      "check",
      `127.0.0.1:9/${NAME}@${digest}`,
      digest,
      "--tls-verify=false",
    ]);
    expect(r.exitCode).toBe(2);
    expect(lastError(r)).toMatch(
      /^atomiso-error: cannot reach the registry 127\.0\.0\.1:9 for the system image \(.*\); connect this machine to the network/,
    );
  });

  it("refuses a reference that is not pinned by digest", async () => {
    const r = await fetchPayload(["check", `${registry.host}/${NAME}:0.1.0`, digest]);
    expect(r.exitCode).toBe(2);
    expect(lastError(r)).toMatch(/is not a pinned reference/);
  });
});

describe("fetch-payload copy", () => {
  it("downloads the image as a layout that verify-payload accepts", async () => {
    const dir = join(work, "pulled");
    await mkdir(dir);
    const r = await fetchPayload(["copy", source, dir, "--tls-verify=false"]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`downloaded ${source} into ${dir}`);
    const verified = await run([join(SCRIPTS, "verify-payload"), dir, digest]);
    expect(verified.stdout).toMatch(/^layer\t/m);
  });

  it("refuses a folder that is not empty, and writes nothing into it", async () => {
    const dir = join(work, "busy");
    await mkdir(dir);
    await writeFile(join(dir, "keep"), "mine");
    const r = await fetchPayload(["copy", source, dir, "--tls-verify=false"]);
    expect(r.exitCode).toBe(2);
    expect(lastError(r)).toBe(`atomiso-error: ${dir} must be an existing, empty folder`);
    expect(await readdir(dir)).toEqual(["keep"]);
  });

  it("fails clearly when the registry cannot be reached", async () => {
    const dir = join(work, "unreachable");
    await mkdir(dir);
    const r = await fetchPayload([
      "copy",
      `127.0.0.1:9/${NAME}@${digest}`,
      dir,
      "--tls-verify=false",
    ]);
    expect(r.exitCode).toBe(2);
    expect(lastError(r)).toMatch(
      /^atomiso-error: cannot download the system image from 127\.0\.0\.1:9 \(.*\); check the network connection/,
    );
  });
});

// The builder container, as README.md "On other hosts" documents it: oci/builder/build-image
// makes the image, then the example's image build, push and ISO build run inside it with the
// host's stage and package caches mounted, and the ISO is checked the way the iso tier checks
// it. Run with `npm run test:container` (root, podman, mmdebstrap; not part of `npm test`).
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { readLock } from "../../src/image/lock.js";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { OciLayout } from "../../src/oci/layout.js";
import { defaultCacheDir } from "../../src/paths.js";
import { registryAnswers } from "../../src/registry/dev-registry.js";
import { run } from "../../src/tools/exec.js";
import { bootReport } from "../../src/tools/xorriso.js";

const repo = join(import.meta.dirname, "../..");
const TAG = "localhost/atomiso/builder:test";
const CONFIG = "examples/particleos/atomiso.toml";
const cache = defaultCacheDir();

/** The documented `podman run` line, with the repository as the project folder. */
function inBuilder(args: string[]) {
  return execa(
    "podman",
    [
      "run",
      "--rm",
      "--privileged",
      "--network",
      "host",
      "-v",
      "/dev:/dev",
      "-v",
      `${repo}:/project`,
      "-w",
      "/project",
      "-v",
      `${cache}:/var/cache/atomiso`,
      "-v",
      "atomiso-containers:/var/lib/containers",
      TAG,
      "atomiso",
      "--log",
      "plain",
      ...args,
    ],
    { all: true, reject: false },
  );
}

describe("the builder container", async () => {
  const work = await mkdtemp(join(tmpdir(), "atomiso-builder-"));
  const image = await execa("bash", [join(repo, "oci/builder/build-image"), TAG], {
    all: true,
    reject: false,
  });
  const steps: Record<string, Awaited<ReturnType<typeof inBuilder>>> = {};
  // The registry as README.md documents it: a container of its own, serving until stopped.
  const registryName = `atomiso-registry-test-${process.pid}`;
  const ownRegistry = image.exitCode === 0 && !(await registryAnswers("127.0.0.1:5000"));
  afterAll(async () => {
    if (ownRegistry)
      await execa("podman", ["stop", "--time", "10", registryName], { reject: false });
    await safeRemove(work);
  });
  if (ownRegistry) {
    await execa("podman", [
      "run",
      "-d",
      "--rm",
      "--name",
      registryName,
      "--network",
      "host",
      "-v",
      `${cache}:/var/cache/atomiso`,
      TAG,
      "atomiso",
      "registry",
      "start",
      "--foreground",
    ]);
    const deadline = Date.now() + 30_000;
    while (!(await registryAnswers("127.0.0.1:5000")) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
  }
  if (image.exitCode === 0) {
    steps.doctor = await inBuilder(["doctor"]);
    for (const [name, args] of [
      ["image build", ["--config", CONFIG, "image", "build"]],
      ["push", ["--config", CONFIG, "push"]],
      ["build", ["--config", CONFIG, "build"]],
    ] as const) {
      steps[name] = await inBuilder([...args]);
      if (steps[name].exitCode !== 0) break;
    }
  }
  const iso = join(repo, "examples/particleos/out/particleos-0.1.0.iso");

  it("builds the builder image", () => {
    expect(image.exitCode, image.all).toBe(0);
  });

  it("has every host tool inside (doctor passes on Debian trixie)", () => {
    expect(steps.doctor?.stdout).toMatch(/✔ host system: Debian GNU\/Linux 13/);
    expect(steps.doctor?.stdout).toMatch(/✔ host tools: /);
    expect(steps.doctor?.exitCode, steps.doctor?.all).toBe(0);
  });

  it("builds the example's image, pushes it and builds its ISO inside", () => {
    for (const [name, r] of Object.entries(steps)) expect(r.exitCode, `${name}:\n${r.all}`).toBe(0);
    expect(steps.build?.stdout).toContain("installer ISO");
  });

  it("writes an ISO like the iso tier's: hybrid boot records and the pinned payload", async () => {
    const report = await bootReport(iso);
    expect(report).toMatch(/El Torito boot img :\s+1\s+BIOS\s+y\s+none/);
    expect(report).toMatch(/El Torito boot img :\s+2\s+UEFI\s+y\s+none/);
    expect(report).toContain("Volume id    : 'PARTICLEOS'");
    const lock = await readLock(join(repo, "examples/particleos/atomiso.lock"));
    await run(["osirrox", "-indev", iso, "-extract", "/atomiso", join(work, "atomiso")]);
    const layout = await OciLayout.open(join(work, "atomiso/payload"));
    expect((await layout.findManifest()).digest).toBe(lock.digest);
    await layout.verifyImage();
  });
});

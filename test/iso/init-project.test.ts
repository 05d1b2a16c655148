// A project `atomiso init` writes builds as it stands: registry start, image build, push and
// build run in its folder without touching its files, and the ISO carries its own names and
// its pinned image. Runs after the example ISO (the tier's fixture), so the base root, the
// live root and the base squashfs come from the cache: a few minutes warm.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { load } from "js-yaml";
import { afterAll, describe, expect, it } from "vitest";
import { readLock } from "../../src/image/lock.js";
import { initProject } from "../../src/init/project.js";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { OciLayout } from "../../src/oci/layout.js";
import { registryAnswers } from "../../src/registry/dev-registry.js";
import { run } from "../../src/tools/exec.js";
import { bootReport } from "../../src/tools/xorriso.js";

const bin = join(import.meta.dirname, "../../bin/atomiso.js");

async function digests(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    out[path.slice(root.length + 1)] = createHash("sha256")
      .update(await readFile(path))
      .digest("hex");
  }
  return out;
}

describe("a project made by atomiso init", async () => {
  const work = await mkdtemp(join(tmpdir(), "atomiso-init-iso-"));
  const project = join(work, "myos");
  await initProject(project, "My OS");
  const before = await digests(project);
  const atomiso = (args: string[]) =>
    execa("node", [bin, "--log", "plain", ...args], { cwd: project, all: true, reject: false });

  const startedRegistry = !(await registryAnswers("127.0.0.1:5000"));
  if (startedRegistry) {
    const start = await atomiso(["registry", "start"]);
    if (start.exitCode !== 0) throw new Error(`registry start failed:\n${start.all}`);
  }
  afterAll(async () => {
    if (startedRegistry) await atomiso(["registry", "stop"]);
    await safeRemove(work);
  });
  const steps: Record<string, Awaited<ReturnType<typeof atomiso>>> = {};
  for (const [name, args] of [
    ["image build", ["image", "build"]],
    ["push", ["push"]],
    ["build", ["build"]],
  ] as const) {
    steps[name] = await atomiso([...args]);
    if (steps[name].exitCode !== 0) break;
  }
  const iso = join(project, "out/my-os-0.1.0.iso");

  it("builds the image, pushes it and builds the installer ISO", () => {
    for (const [name, result] of Object.entries(steps))
      expect(result.exitCode, `${name}:\n${result.all}`).toBe(0);
    expect(steps.build?.stdout).toContain("wrote out/my-os-0.1.0.iso");
    expect(steps.build?.stdout).toContain("installer ISO");
    // The example's live root and base squashfs are reused.
    expect(steps.build?.all).not.toContain("▶ Bootstrap the live root");
    expect(steps.build?.all).not.toContain("▶ Compress the base system");
  });

  it("leaves the project's files as init wrote them, adding the lock and out/", async () => {
    const after = await digests(project);
    const added = Object.keys(after)
      .filter((f) => !(f in before))
      .sort();
    // The ISO, its build log and its release files (docs/releases.md).
    expect(added).toEqual([
      "atomiso.lock",
      "out/SHA256SUMS",
      "out/my-os-0.1.0.iso",
      "out/my-os-0.1.0.iso.log",
      "out/my-os-0.1.0.iso.manifest.json",
      "out/my-os-0.1.0.iso.spdx.json",
    ]);
    for (const [f, digest] of Object.entries(before)) expect(after[f], f).toBe(digest);
  });

  it("writes the build log beside the ISO", async () => {
    const log = await readFile(`${iso}.log`, "utf8");
    expect(log).toMatch(/\[cmd \d+\] \$ \S+/);
    expect(log).toMatch(/✔ .* \(\d+(\.\d)?s\)/);
    expect(log).toMatch(/build finished after/);
  });

  it("carries its own names, branding and pinned image", async () => {
    expect(await bootReport(iso)).toContain("Volume id    : 'MY_OS_0_1_0'");
    await run([
      "osirrox",
      "-indev",
      iso,
      "-extract",
      "/live/50-config.squashfs",
      join(work, "config.squashfs"),
      "-extract",
      "/atomiso",
      join(work, "atomiso"),
    ]);
    const cat = async (path: string) =>
      (await run(["unsquashfs", "-cat", join(work, "config.squashfs"), path])).stdout;
    const desc = load(await cat("etc/calamares/branding/my-os/branding.desc")) as {
      strings: Record<string, string>;
    };
    expect(desc.strings.versionedName).toBe("My OS 0.1.0");
    expect(await cat("etc/calamares/branding/my-os/show.qml")).not.toMatch(/particle/i);
    const lock = await readLock(join(project, "atomiso.lock"));
    expect(lock.reference).toBe("127.0.0.1:5000/my-os/system:0.1.0");
    const layout = await OciLayout.open(join(work, "atomiso/payload"));
    expect((await layout.findManifest()).digest).toBe(lock.digest);
    expect(existsSync(join(work, "atomiso/install.json"))).toBe(true);
  });
});

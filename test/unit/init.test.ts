// `atomiso init` writes a project of its own that validates and plans as written, carries none
// of the example's names, and whose system image stays a faithful starter of the example's.
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import type { AtomisoError } from "../../src/errors.js";
import { imageFiles } from "../../src/init/image-files.js";
import { idFromName, initProject, projectNames } from "../../src/init/project.js";
import { planIso } from "../../src/plan/plan.js";

const repo = join(import.meta.dirname, "../..");
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "atomiso-init-test-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function allFiles(root: string): Promise<string[]> {
  return (await readdir(root, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(root.length + 1))
    .sort();
}

describe("atomiso init", () => {
  it("writes a complete project that validates and plans at once", async () => {
    const result = await initProject(join(dir, "myos"), "My OS");
    expect(result.names).toEqual({ name: "My OS", id: "my-os", version: "0.1.0" });
    expect(await allFiles(result.dir)).toEqual([
      ".gitignore",
      "atomiso.toml",
      "branding/icon.png",
      "branding/logo.png",
      "branding/slide-atomic.png",
      "branding/slide-updates.png",
      "branding/welcome.png",
      "image/Containerfile",
      "image/initramfs/usr/lib/dracut/dracut.conf.d/50-my-os.conf",
      "image/initramfs/usr/lib/ostree/prepare-root.conf",
      "image/rootfs/etc/default/grub",
      "image/rootfs/etc/hosts",
      "image/rootfs/etc/tmpfiles.d/systemd-resolve.conf",
      "image/rootfs/usr/lib/systemd/network/80-my-os-wired.network",
      "image/rootfs/usr/lib/tmpfiles.d/my-os-ostree.conf",
    ]);
    const loaded = await loadConfig(join(result.dir, "atomiso.toml"));
    const c = loaded.config;
    expect(c.product).toMatchObject({ name: "My OS", id: "my-os", version: "0.1.0" });
    expect(c.image?.reference).toBe("127.0.0.1:5000/my-os/system:0.1.0");
    expect(c.image?.tag).toBe("localhost/my-os/system:0.1.0");
    expect(c.image?.containerfile).toBe("image/Containerfile");
    expect(c.iso.volume_id).toBe("MY_OS_0_1_0");
    expect(c.branding.slides.map((s) => s.image)).toEqual([
      "slide-atomic.png",
      "slide-updates.png",
    ]);

    const plan = await planIso(loaded, { noPayload: true });
    expect(plan.output).toBe(join(result.dir, "out/my-os-0.1.0-nopayload.iso"));
    expect(plan.steps.map((s) => s.stage.definition.id)).toContain("iso");
    // With the payload, the plan asks for the pinned image, and says how to pin it.
    const err = (await planIso(loaded).catch((e: unknown) => e)) as AtomisoError;
    expect(err.code).toBe("image-unpinned");
    expect(err.hint).toContain("atomiso push");
  });

  it("shares the example's live system, so its ISO reuses the cached base stages", async () => {
    const mine = await planIso(await loadConfig(join(dir, "myos/atomiso.toml")), {
      noPayload: true,
    });
    const example = await planIso(
      await loadConfig(join(repo, "examples/particleos/atomiso.toml")),
      { noPayload: true },
    );
    const key = (p: typeof mine, id: string) =>
      p.steps.find((s) => s.stage.definition.id === id)?.key;
    for (const id of ["bootstrap", "squashfs-base", "kernel"])
      expect(key(mine, id), id).toBe(key(example, id));
  });

  it("carries none of the example's names", async () => {
    for (const f of await allFiles(join(dir, "myos"))) {
      if (f.endsWith(".png")) continue;
      const text = await readFile(join(dir, "myos", f), "utf8");
      expect(text, f).not.toMatch(/particle/i);
    }
  });

  it("keeps its image a starter of the example's (same instructions and files)", async () => {
    const files = imageFiles({ name: "ParticleOS", id: "particleos", version: "0.1.0" });
    const example = join(repo, "oci/particleos");
    // The example's own registry entry (the boot tier's plain-HTTP registry) is no starter's.
    const EXAMPLE_ONLY = ["rootfs/etc/containers/registries.conf.d/50-particleos-example.conf"];
    expect(Object.keys(files).sort()).toEqual(
      (await allFiles(example)).filter((f) => !EXAMPLE_ONLY.includes(f)),
    );
    const instructions = (text: string) =>
      text.split("\n").filter((l) => l.trim() && !l.startsWith("#") && !l.includes("licenses="));
    for (const [f, text] of Object.entries(files)) {
      const theirs = await readFile(join(example, f), "utf8");
      if (f === "Containerfile") expect(instructions(text), f).toEqual(instructions(theirs));
      else expect(text, f).toBe(theirs);
    }
  });

  it("refuses a folder that has a project, and names that are not plain", async () => {
    const again = (await initProject(join(dir, "myos")).catch((e: unknown) => e)) as AtomisoError;
    expect(again.code).toBe("usage");
    expect(again.message).toContain("already has atomiso.toml");
    const other = join(dir, "other");
    const bad = (await initProject(other, 'Evil" OS').catch((e: unknown) => e)) as AtomisoError;
    expect(bad.code).toBe("usage");
    expect(bad.message).toContain("--name");
    await expect(readdir(dir)).resolves.not.toContain("other");
    // Nothing half written: no temp folder is left in either.
    expect(
      (await readdir(join(dir, "myos"))).filter((f) => f.startsWith(".atomiso-init-")),
    ).toEqual([]);
  });

  it("derives ids and names from the folder", () => {
    expect(idFromName("My Cool  OS!")).toBe("my-cool-os");
    expect(idFromName("***")).toBe("myos");
    expect(projectNames("/x/cloud-os")).toEqual({
      name: "Cloud Os",
      id: "cloud-os",
      version: "0.1.0",
    });
  });
});

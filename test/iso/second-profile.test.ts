// A second, differently branded profile (examples/nimbus) changes only product, branding and
// installer choices: its ISO reuses the cached base system and carries its own installer.
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { load } from "js-yaml";
import { afterAll, describe, expect, it } from "vitest";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { run } from "../../src/tools/exec.js";

const NIMBUS_CONFIG = "examples/nimbus/atomiso.toml";

describe("the Nimbus profile", async () => {
  const work = await mkdtemp(join(tmpdir(), "atomiso-nimbus-"));
  afterAll(() => safeRemove(work));
  const build = await execa(
    "node",
    ["bin/atomiso.js", "--config", NIMBUS_CONFIG, "--log", "plain", "build", "--no-payload"],
    { all: true, reject: false },
  );
  const iso = "examples/nimbus/out/nimbus-2.0-nopayload.iso";

  it("builds by reusing the base system, kernel and squashfs of the shared cache", () => {
    expect(build.exitCode, build.all).toBe(0);
    expect(build.all).not.toContain("▶ Bootstrap the live root");
    expect(build.all).not.toContain("▶ Compress the base system");
  });

  it("carries its own name, logo, slides and installer choices", async () => {
    await run([
      "osirrox",
      "-indev",
      iso,
      "-extract",
      "/live/50-config.squashfs",
      join(work, "config.squashfs"),
    ]);
    const cat = async (path: string) =>
      (await run(["unsquashfs", "-cat", join(work, "config.squashfs"), path])).stdout;
    const brandingDir = "etc/calamares/branding/nimbus";
    const desc = load(await cat(`${brandingDir}/branding.desc`)) as {
      strings: Record<string, string>;
      style: Record<string, string>;
    };
    expect(desc.strings.versionedName).toBe("Nimbus 2.0");
    expect(desc.style.SidebarBackground).toBe("#5b2a86");
    const show = await cat(`${brandingDir}/show.qml`);
    expect(show).toContain("Nimbus is installed as one image and updated as one image.");
    expect(show).toContain('source: "slide-2.png"');
    const { stdout: logo } = await run([
      "unsquashfs",
      "-lls",
      join(work, "config.squashfs"),
      `${brandingDir}/logo.png`,
    ]);
    const size = (await readFile("examples/nimbus/branding/logo.png")).length;
    expect(logo).toMatch(new RegExp(`\\s${size} .*logo\\.png$`, "m"));
    const partition = load(await cat("etc/calamares/modules/partition.conf")) as {
      defaultFileSystemType: string;
      userSwapChoices: string[];
    };
    expect(partition.defaultFileSystemType).toBe("xfs");
    expect(partition.userSwapChoices).toEqual(["small", "none"]);
    const users = load(await cat("etc/calamares/modules/users.conf")) as {
      sudoersGroup: string;
      hostname: { template: string };
    };
    expect(users.sudoersGroup).toBe("wheel");
    expect(users.hostname.template).toBe("nimbus-${first}");
    const settings = load(await cat("etc/calamares/settings.conf")) as { branding: string };
    expect(settings.branding).toBe("nimbus");
    expect(await cat("etc/os-release")).toContain('NAME="Nimbus Live"');
  });
});

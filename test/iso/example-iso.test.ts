// The example ISO, as built by the shared fixture: its boot records, its medium layout, the
// live configuration inside the config layer, a warm rebuild, and an interrupted rebuild.
import { mkdtemp, readdir, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { load } from "js-yaml";
import { afterAll, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { readLock } from "../../src/image/lock.js";
import { lockFileFor } from "../../src/image/settings.js";
import { mountsUnder } from "../../src/mounts/mountinfo.js";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { OciLayout } from "../../src/oci/layout.js";
import { defaultCacheDir } from "../../src/paths.js";
import { isoBoot } from "../../src/qemu/install.js";
import { toramNeedMiB } from "../../src/render/grub-cfg.js";
import { TORAM_RESERVE_MIB } from "../../src/stages/iso.js";
import { run } from "../../src/tools/exec.js";
import { bootReport } from "../../src/tools/xorriso.js";
import { EXAMPLE_CONFIG } from "../support/iso-fixture.js";

const atomiso = (args: string[]) =>
  execa("node", ["bin/atomiso.js", "--config", EXAMPLE_CONFIG, "--log", "plain", ...args], {
    all: true,
    reject: false,
  });

describe("the example ISO", async () => {
  const iso = inject("isoPath");
  const work = await mkdtemp(join(tmpdir(), "atomiso-iso-"));
  afterAll(() => safeRemove(work));
  await run([
    "osirrox",
    "-indev",
    iso,
    "-extract",
    "/live/filesystem.module",
    join(work, "module"),
    "-extract",
    "/boot/grub/grub.cfg",
    join(work, "grub.cfg"),
    "-extract",
    "/live/50-config.squashfs",
    join(work, "config.squashfs"),
  ]);

  it("has a BIOS and a UEFI El Torito boot image and an appended ESP (USB case)", async () => {
    const report = await bootReport(iso);
    expect(report).toMatch(/El Torito boot img :\s+1\s+BIOS\s+y\s+none/);
    expect(report).toMatch(/El Torito boot img :\s+2\s+UEFI\s+y\s+none/);
    expect(report).toContain("MBR grub2-mbr");
    expect(report).toMatch(/MBR partition\s+:\s+2\s+0x00\s+0xef/);
    expect(report).toContain("Volume id    : 'PARTICLEOS'");
  });

  it("carries two live-boot layers, stacked in order, with kernel and GRUB menu", async () => {
    expect(await readFile(join(work, "module"), "utf8")).toBe(
      "00-base.squashfs\n50-config.squashfs\n",
    );
    const grub = await readFile(join(work, "grub.cfg"), "utf8");
    expect(grub).toContain('menuentry "Install ParticleOS"');
    expect(grub).toContain("systemd.debug_shell=ttyS0");
    const r = await run(["xorriso", "-indev", iso, "-find", "/live", "-type", "f"]);
    for (const f of ["00-base.squashfs", "50-config.squashfs", "vmlinuz", "initrd.img"])
      expect(r.stdout).toContain(`/live/${f}`);
  });

  it("passes the memory a copy of the medium needs to the live kernel (medium.cfg, as GRUB expands it)", async () => {
    const boot = await isoBoot(iso, join(work, "iso-boot"));
    const need = toramNeedMiB(boot.args) as number;
    expect(need).toBeDefined();
    // The medium (every file; the ISO adds little else) plus the example's 1.25 GiB and the
    // reserve: below the 3 GiB of the boot tier's guests, above the 1.5 GiB install's.
    const isoMiB = (await stat(iso)).size / (1024 * 1024);
    expect(need).toBeGreaterThan(isoMiB - 16 + 1280 + TORAM_RESERVE_MIB);
    expect(need).toBeLessThanOrEqual(Math.ceil(isoMiB) + 1280 + TORAM_RESERVE_MIB);
    expect(need).toBeGreaterThan(1536);
    expect(need).toBeLessThan(2900);
  });

  it("configures the live system in the config layer", async () => {
    const cat = async (path: string) =>
      (await run(["unsquashfs", "-cat", join(work, "config.squashfs"), path])).stdout;
    expect(await cat("etc/hostname")).toBe("particleos-live\n");
    expect(await cat("etc/passwd")).toMatch(
      /^live:x:1000:1000:Live user:\/home\/live:\/bin\/bash$/m,
    );
    expect(await cat("etc/sddm.conf.d/10-atomiso-autologin.conf")).toContain("User=live");
    expect(await cat("etc/sudoers.d/10-atomiso-live")).toBe("live ALL=(ALL:ALL) NOPASSWD: ALL\n");
    // The live user's systemd starts at boot (linger), not after X when the session opens.
    expect(await cat("var/lib/systemd/linger/live")).toBe("");
    // The keyboard preview's ckbcomp output for the live layout, kept at build time.
    expect(await cat("usr/share/atomiso/ckbcomp/pc106-us")).toMatch(/^keycode \d+ = /m);
    // The login does not wait for NetworkManager (live-configure's copy of the unit).
    const userSessions = await cat("etc/systemd/system/systemd-user-sessions.service");
    expect(userSessions).toMatch(/^After=.*nss-user-lookup\.target/m);
    expect(userSessions).not.toContain("network.target");
    expect(userSessions).toMatch(/^ExecStart=.*systemd-user-sessions start$/m);
    const { stdout: listing } = await run(["unsquashfs", "-lls", join(work, "config.squashfs")]);
    expect(listing).toMatch(
      /graphical\.target\.wants\/atomiso-live-marker\.service -> \/usr\/lib\/systemd\/system\/atomiso-live-marker\.service$/m,
    );
    // No "Failed to query local AF_VSOCK CID" on the console: systemd's ssh generator masked.
    expect(listing).toMatch(
      /etc\/systemd\/system-generators\/systemd-ssh-generator -> \/dev\/null$/m,
    );
    const settings = load(await cat("etc/calamares/settings.conf")) as { branding: string };
    expect(settings.branding).toBe("particleos");
  });

  it("embeds the pinned image beside the squashfs layers, with the install plan", async () => {
    const lock = await readLock(lockFileFor(EXAMPLE_CONFIG));
    const out = join(work, "atomiso");
    await run(["osirrox", "-indev", iso, "-extract", "/atomiso", out]);
    // The layout holds exactly the pinned manifest, and every blob verifies.
    const layout = await OciLayout.open(join(out, "payload"));
    expect((await layout.findManifest()).digest).toBe(lock.digest);
    const report = await layout.verifyImage();
    expect(report.blobs).toBeGreaterThanOrEqual(3);
    const plan = JSON.parse(await readFile(join(out, "install.json"), "utf8"));
    expect(plan).toMatchObject({
      backend: lock.backend,
      // What the installed system updates from: image.track, else image.reference.
      image: {
        reference: (await loadConfig(EXAMPLE_CONFIG)).config.image?.track ?? lock.reference,
        digest: lock.digest,
        pinned: lock.pinned,
      },
      payload: { mode: "embedded", layout: "/run/live/medium/atomiso/payload" },
      kargs: ["console=tty0", "console=ttyS0,115200"],
    });
    // Not inside the live root: the config layer only links to the plan on the medium.
    const { stdout: listing } = await run(["unsquashfs", "-lls", join(work, "config.squashfs")]);
    expect(listing).toMatch(
      /etc\/atomiso\/install\.json -> \/run\/live\/medium\/atomiso\/install\.json$/m,
    );
    expect(listing).not.toContain("blobs/sha256");
    for (const f of [
      "usr/lib/atomiso/deploy/ostree-deploy",
      "usr/lib/atomiso/install/atomiso-install",
    ])
      expect(listing).toMatch(new RegExp(`^-rwxr-xr-x .*${f}$`, "m"));
    expect(listing).toMatch(/multi-user\.target\.wants\/atomiso-unattended\.service/);
  });

  it("rebuilds from the cache when nothing changed", async () => {
    const { stdout, stderr } = await atomiso(["build"]);
    const outDir = join(iso, "..");
    expect((await readdir(outDir)).filter((f) => f.includes(".partial"))).toEqual([]);
    expect(stderr).toMatch(/^0 stage\(s\) built, 9 cached/m);
    expect(stdout).toContain("particleos-0.1.0.iso");
  });

  it("leaves no mounts and no temp files when interrupted during bootstrap, and builds again", async () => {
    const cacheDir = defaultCacheDir();
    const child = atomiso(["build", "--rebuild", "bootstrap", "--until", "bootstrap"]);
    // Interrupt once mmdebstrap is inside the chroot (its binds of /dev, /proc, /sys are up).
    await new Promise<void>((resolve) => {
      child.all?.on("data", (chunk: Buffer) => {
        if (/installing essential packages/.test(chunk.toString())) setTimeout(resolve, 3000);
      });
    });
    child.kill("SIGINT");
    const result = await child;
    expect(result.exitCode).toBe(130);
    expect(result.all).toContain("build interrupted by SIGINT");
    expect(await mountsUnder(cacheDir)).toEqual([]);
    const temps = await readdir(join(cacheDir, "tmp")).catch(() => []);
    expect(temps.filter((t) => t.includes(`-${child.pid}-`))).toEqual([]);
    const leftovers = await execa("pgrep", ["-f", "mmdebstrap"], { reject: false });
    expect(leftovers.stdout).toBe("");
    const again = await atomiso(["build"]);
    expect(again.exitCode).toBe(0);
  });
});

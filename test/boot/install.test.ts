// Install and reboot, the whole product path: the example ISO installs the pinned system image
// unattended (an answer file on a small labelled disk, atomiso.answer= on the kernel command
// line) onto a blank virtual disk and powers off; then that disk boots alone, on SeaBIOS and
// on OVMF with Secure Boot on, and a login on its serial console as the answer file's user
// shows an ostree deployment of the image. Serial logs stay in test-artifacts/install/<firmware>/.
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { runPlan } from "../../src/build/runner.js";
import { loadConfig } from "../../src/config/load.js";
import { readLock, writeLock } from "../../src/image/lock.js";
import { silentReporter } from "../../src/log/reporter.js";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { defaultCacheDir } from "../../src/paths.js";
import { planIso } from "../../src/plan/plan.js";
import { createBlankDisk, type Firmware } from "../../src/qemu/index.js";
import { bootInstalled, unattendedInstall } from "../../src/qemu/install.js";
import { run } from "../../src/tools/exec.js";
import { startRegistry, stopRegistry, type TestRegistry } from "../support/registry.js";

const USER = "ada";
const PASSWORD = "lovelace-1815";
const HOSTNAME = "particle-test";
const REFERENCE = "127.0.0.1:5000/particleos/system:0.1.0";
const EXAMPLE = resolve(import.meta.dirname, "../../examples/particleos/atomiso.toml");
/** The registry as the online test guest sees it (a QEMU user-network forward). */
const ONLINE_REFERENCE = "10.0.2.100:5000/particleos/system:0.1.0";

async function answer(): Promise<string> {
  const { stdout } = await run(["openssl", "passwd", "-6", "-salt", "atomisotest", PASSWORD]);
  return `# Unattended install of the example image onto the test machine's virtio disk.
[disk]
device = "/dev/vda"
wipe = true

[user]
name = "${USER}"
full_name = "Ada Lovelace"
password_hash = "${stdout.trim()}"

[system]
hostname = "${HOSTNAME}"
locale = "en_GB.UTF-8"
timezone = "Europe/London"

[install]
after = "poweroff"
`;
}

describe.concurrent("unattended install, then boot the installed disk", () => {
  for (const firmware of ["bios", "uefi"] as Firmware[]) {
    it(`${firmware}: installs the pinned image and boots it as an ostree deployment`, async () => {
      const artifacts = resolve("test-artifacts/install", firmware);
      await rm(artifacts, { recursive: true, force: true });
      const scratch = await mkdtemp(join(tmpdir(), `atomiso-install-${firmware}-`));
      try {
        const target = await createBlankDisk(join(scratch, "target.qcow2"), 20);
        const install = await unattendedInstall({
          iso: inject("isoPath"),
          firmware,
          target,
          answerToml: await answer(),
          runDir: join(artifacts, "install"),
          memoryMiB: 3072,
        });
        console.log(
          `[install ${firmware}] ${install.seconds}s: ${install.installedLine}; ${install.memoryLine ?? "no memory report"}`,
        );
        expect(install.installedLine).toMatch(
          /installed ParticleOS 0\.1\.0 \(sha256:[0-9a-f]{64}\)/,
        );
        expect(install.after).toBe("poweroff");

        // On OVMF the installed disk boots with Secure Boot on (Microsoft's keys enrolled):
        // the example image ships Debian's signed shim and GRUB, and its kernel is signed.
        const bootFirmware: Firmware = firmware === "uefi" ? "uefi-secureboot" : firmware;
        const booted = await bootInstalled({
          firmware: bootFirmware,
          target,
          runDir: join(artifacts, "boot"),
          user: USER,
          password: PASSWORD,
          // Short output lines, computed in the guest: long lines on a serial console can come
          // back with a character doubled where the terminal wraps them.
          commands: [
            "grep -o ' ostree=/ostree/boot[.][01]/particleos/' /proc/cmdline",
            'echo "sysroot=$(findmnt -n -o OPTIONS /sysroot | cut -d, -f1)"',
            'echo "usr=$(findmnt -n -o OPTIONS /usr | cut -d, -f1)"',
            "ostree admin status | grep -o '^[*] particleos'",
            "ostree admin status | grep -o 'Version: .*'",
            "grep -h -o '^image-reference=.*' /ostree/deploy/particleos/deploy/*.origin",
            'echo "user=$(id -un) groups=$(id -nG)"',
            'echo "host=$(hostname)"',
            "grep -o 'LANG=.*' /etc/locale.conf",
            'echo "zone=$(readlink /etc/localtime)"',
            "test -d /sys/firmware/efi && echo firmware=efi || echo firmware=bios",
          ],
        });
        console.log(`[boot ${firmware}] login prompt after ${booted.loginPromptSeconds}s`);
        const out = booted.output;
        expect(out).toContain(" ostree=/ostree/boot.");
        expect(out).toMatch(/^sysroot=rw$/m);
        expect(out).toMatch(/^usr=ro$/m);
        expect(out).toMatch(/^\* particleos$/m);
        expect(out).toMatch(/^Version: 0\.1\.0$/m);
        expect(out).toMatch(
          new RegExp(`^image-reference=${REFERENCE.replace(/[.]/g, "\\.")}$`, "m"),
        );
        expect(out).toMatch(new RegExp(`^user=${USER} groups=.*\\bsudo\\b`, "m"));
        expect(out).toMatch(new RegExp(`^host=${HOSTNAME}$`, "m"));
        expect(out).toMatch(/^LANG=en_GB\.UTF-8$/m);
        expect(out).toMatch(/^zone=.*Europe\/London$/m);
        expect(out).toMatch(new RegExp(`^firmware=${firmware === "uefi" ? "efi" : "bios"}$`, "m"));
        // The kernel's own word, early on the serial console (the user cannot read efivars).
        const bootLog = await readFile(booted.serialLog, "utf8");
        if (firmware === "uefi") {
          expect(bootLog).toMatch(/secureboot: Secure boot enabled/);
          expect(bootLog).toMatch(/Kernel is locked down from EFI Secure Boot/);
        } else {
          expect(bootLog).not.toMatch(/Secure boot enabled/);
        }
      } finally {
        await safeRemove(scratch);
      }
    });
  }

  // An ISO without the image ([image] payload = "online") installs by pulling the pinned image
  // at install time. The registry is Debian's docker-registry on the host's 127.0.0.1 holding
  // the example image, copied by digest from the example ISO's payload; the guest's only
  // network path is QEMU's user-network forward from 10.0.2.100:5000 to it (restrict=on). The
  // profile is the example with image.reference on 10.0.2.100:5000, built from the same cache.
  it("online: pulls the pinned image from the registry at install time and boots it", async () => {
    const artifacts = resolve("test-artifacts/install", "online");
    await rm(artifacts, { recursive: true, force: true });
    const scratch = await mkdtemp(join(tmpdir(), "atomiso-install-online-"));
    let registry: TestRegistry | undefined;
    try {
      const payload = join(scratch, "payload");
      await run(["osirrox", "-indev", inject("isoPath"), "-extract", "/atomiso/payload", payload]);
      registry = await startRegistry(scratch, "online");
      await run([
        "skopeo",
        "--insecure-policy",
        "copy",
        "--preserve-digests",
        "--dest-tls-verify=false",
        `oci:${payload}`,
        `docker://${registry.host}/particleos/system:0.1.0`,
      ]);
      await safeRemove(payload);

      const loaded = structuredClone(await loadConfig(EXAMPLE));
      if (!loaded.config.image) throw new Error("the example has an [image]");
      const lock = await readLock(join(loaded.dir, "atomiso.lock"));
      loaded.config.image = {
        ...loaded.config.image,
        reference: ONLINE_REFERENCE,
        payload: "online",
        tls_verify: false,
      };
      loaded.config.iso.output = join(scratch, "online.iso");
      loaded.file = join(scratch, "profile", "atomiso.toml");
      await writeLock(join(scratch, "profile", "atomiso.lock"), {
        ...lock,
        reference: ONLINE_REFERENCE,
        pinned: `${ONLINE_REFERENCE.replace(/:[^:/]+$/, "")}@${lock.digest}`,
        tlsVerify: false,
      });
      const built = await runPlan(await planIso(loaded), {
        cacheDir: defaultCacheDir(),
        reporter: silentReporter,
      });
      const iso = built.iso ?? "";
      const sizes = {
        online: (await stat(iso)).size,
        embedded: (await stat(inject("isoPath"))).size,
      };
      console.log(`[online] ISO ${sizes.online >> 20} MiB (embedded ${sizes.embedded >> 20} MiB)`);
      expect(sizes.embedded - sizes.online).toBeGreaterThan(lock.size * 0.9);

      const target = await createBlankDisk(join(scratch, "target.qcow2"), 20);
      const port = Number(registry.host.split(":")[1]);
      const install = await unattendedInstall({
        iso,
        firmware: "bios",
        target,
        answerToml: await answer(),
        runDir: join(artifacts, "install"),
        memoryMiB: 3072,
        guestForwards: [{ guestAddress: "10.0.2.100", guestPort: 5000, hostPort: port }],
      });
      const serial = await readFile(install.serialLog, "utf8");
      const download = /atomiso-timing download ([\d.]+)/.exec(serial)?.[1];
      console.log(
        `[online] ${install.seconds}s (download ${download ?? "?"} s): ${install.installedLine}`,
      );
      expect(install.installedLine).toContain(`(${lock.digest})`);
      expect(serial).toMatch(/registry serves the system image|checking that the registry serves/);
      expect(serial).toMatch(/atomiso-progress 1 Downloading the system image/);
      expect(download).toBeDefined();

      const booted = await bootInstalled({
        firmware: "bios",
        target,
        runDir: join(artifacts, "boot"),
        user: USER,
        password: PASSWORD,
        commands: [
          "ostree admin status | grep -o '^[*] particleos'",
          "grep -h -o '^image-reference=.*' /ostree/deploy/particleos/deploy/*.origin",
        ],
      });
      expect(booted.output).toMatch(/^\* particleos$/m);
      expect(booted.output).toMatch(
        new RegExp(`^image-reference=${ONLINE_REFERENCE.replace(/[.]/g, "\\.")}$`, "m"),
      );
    } finally {
      if (registry) await stopRegistry(registry);
      await safeRemove(scratch);
    }
  });
});

// Install and reboot, the whole product path, unattended: an answer file on a small labelled
// disk and atomiso.answer= on the kernel command line make the live system install onto a
// blank virtual disk and power off; then that disk boots alone and a login on its serial
// console as the answer file's user shows an ostree deployment of the image. Two cases, run at
// once (the Calamares path is the keyboard walk's, on both firmwares):
//   - uefi: the example ISO with the image embedded, in a 1.5 GiB guest (the example declares
//     1.25 GiB); the installed disk boots on OVMF with Secure Boot on (the image ships Debian's
//     signed shim and GRUB; its kernel is signed). With UEFI_BESIDE_WINDOWS the disk is a
//     Windows laptop's (test/support/windows-disk.ts: ESP, MSR, 8 GiB NTFS, free space after
//     it) with a "Windows Boot Manager" firmware entry, and the answer file installs into the
//     free space (mode = "free-space", no wipe consent) without a separate /boot (ostree keeps
//     the kernels in the sysroot, GRUB reads them there) and with a /var/home partition
//     (home_gib): Windows' files must come through unchanged, the firmware's BootOrder must
//     start with the new system and keep Windows Boot Manager, the installed GRUB menu must
//     offer Windows, and the installed system boots through its own firmware entry (the
//     removable path is Windows' loader);
//   - bios-online: an ISO without the image ([image] payload = "online") pulls it at install
//     time from a registry on the host's 127.0.0.1, reached only through a QEMU user-network
//     forward (test/support/online-iso.ts). The installed system then lives on: a 0.2.0 of the
//     example image (VERSION, so os-release, changed) is pushed to the channel it tracks
//     (image.track, :stable), `atomiso-update upgrade` stages it fetching only the changed
//     layer, the next boot runs 0.2.0, `atomiso-update rollback` and the boot after run 0.1.0.
//     With BIOS_BTRFS_LAYOUT it installs an explicit layout (mode = "layout": ext4 /boot, an
//     encrypted (LUKS2) btrfs root with the subvolume layout): the installed system must run
//     from @ and mount /var/home from @home; the passphrase is typed at the initramfs' prompt
//     at every boot. While the live system installs, its SSH server ([live] ssh_keys: the online
//     ISO's profile names a key made for the run) is checked from the host through a forward
//     of the guest's port 22 (test/support/live-ssh.ts): the key logs in as the live user,
//     only publickey is offered, and another key and root are refused.
// Serial logs stay in test-artifacts/install/<case>/.
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { buildImage } from "../../src/image/build.js";
import { readLock } from "../../src/image/lock.js";
import { pushImage } from "../../src/image/push.js";
import { imageSettings } from "../../src/image/settings.js";
import { silentReporter } from "../../src/log/reporter.js";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { defaultCacheDir } from "../../src/paths.js";
import { createBlankDisk, type Firmware, ovmfFiles } from "../../src/qemu/index.js";
import { bootInstalled, unattendedInstall } from "../../src/qemu/install.js";
import { copyBootEntries } from "../../src/qemu/ovmf-vars.js";
import { run } from "../../src/tools/exec.js";
import { describeBootOrder, dualBootFindings, expectDualBoot } from "../support/dual-boot.js";
import {
  describeLiveSsh,
  expectLiveSsh,
  freeHostPort,
  type LiveSshFindings,
  liveSshFindings,
  SSH_GUEST_PORT,
} from "../support/live-ssh.js";
import {
  EXAMPLE_PROFILE,
  ONLINE_REFERENCE,
  type OnlineIso,
  onlineIso,
} from "../support/online-iso.js";
import { stopRegistry } from "../support/registry.js";
import {
  makeLaptopVars,
  makeWindowsDisk,
  type WindowsDiskRecord,
} from "../support/windows-disk.js";

const USER = "ada";
const PASSWORD = "lovelace-1815";
const HOSTNAME = "particle-test";
const PASSPHRASE = "atomic-particles-42";

/**
 * Issue 18: the uefi case installs into the free space of a Windows laptop's disk (answer file
 * mode = "free-space", no /boot partition, a /var/home partition) instead of erasing a blank
 * one. false: back to the blank disk and mode "erase".
 */
const UEFI_BESIDE_WINDOWS = true;
/**
 * Issue 18: the bios-online case installs an explicit layout (mode = "layout": ext4 /boot,
 * encrypted btrfs root with btrfs_subvolumes) and checks /var/home on @home. false: the
 * default layout.
 */
const BIOS_BTRFS_LAYOUT = true;

interface Case {
  name: string;
  firmware: Firmware;
  online: boolean;
  encrypt: boolean;
  /** Install beside Windows into free space (mode = "free-space", no /boot, home_gib). */
  besideWindows: boolean;
  memoryMiB: number;
  /** mode = "layout" with a separate /boot and a btrfs root with the subvolume layout. */
  btrfsLayout: boolean;
}
const CASES: Case[] = [
  {
    name: "uefi",
    firmware: "uefi",
    online: false,
    encrypt: false,
    besideWindows: UEFI_BESIDE_WINDOWS,
    btrfsLayout: false,
    // The example declares 1.25 GiB ([installer.requirements] ram_gib): proven here.
    memoryMiB: 1536,
  },
  {
    name: "bios-online",
    firmware: "bios",
    online: true,
    encrypt: true,
    besideWindows: false,
    btrfsLayout: BIOS_BTRFS_LAYOUT,
    // LUKS2's key derivation (argon2id sizes its memory from the guest's) gets room.
    memoryMiB: 3072,
  },
];
/** The Windows laptop: 24 GiB like the issue's, NTFS 8 GiB, so about 16 GiB are free. */
const HOME_GIB = 2;
const LAPTOP = { sizeGiB: 24, ntfsGiB: 8 };

/**
 * Builds 0.2.0 of the example image (only VERSION differs: os-release and a small last layer)
 * and pushes it to `registry` as the channel the installed system tracks (`:stable`).
 */
async function pushNextVersion(registry: string, scratch: string): Promise<string> {
  const s = imageSettings(await loadConfig(EXAMPLE_PROFILE));
  s.tag = "localhost/atomiso-test/particleos-boot:0.2.0";
  s.buildArgs = { ...s.buildArgs, VERSION: "0.2.0" };
  s.reference = `${registry}/particleos/system:0.2.0`;
  s.track = `${registry}/particleos/system:stable`;
  s.tlsVerify = false;
  s.lockFile = join(scratch, "atomiso-0.2.0.lock"); // never the example's own lock
  await buildImage(s, { cacheDir: defaultCacheDir(), reporter: silentReporter });
  const pushed = await pushImage(s, { reporter: silentReporter, backend: "ostree", channel: true });
  return pushed.lock.digest;
}

/** What the update checks read in the installed system (short lines, see below). */
const VERSION_CHECKS = [
  '. /etc/os-release; echo "os-release=$VERSION_ID/$IMAGE_VERSION"',
  "ostree admin status | grep -o 'Version: .*' | head -n 1",
];

/** The [disk] lines that choose where the system goes (see the header). */
function diskMode(c: Case): string {
  if (c.besideWindows)
    return `# Into the free space after Windows: deletes nothing, so no wipe. No /boot: the kernels
# stay in the sysroot. The users' files get a partition of their own.
mode = "free-space"
boot_partition = false
home_gib = ${HOME_GIB}
`;
  if (c.btrfsLayout) return 'wipe = true\nmode = "layout"\nbtrfs_subvolumes = true\n';
  return "wipe = true\n";
}

/** mode = "layout": the partitions, after every [disk] key. */
function layoutTables(c: Case): string {
  if (!c.btrfsLayout) return "";
  return `
[[disk.partitions]]
mount = "/boot"
filesystem = "ext4"
size_gib = 1

[[disk.partitions]]
mount = "/"
filesystem = "btrfs"
`;
}

async function answer(c: Case): Promise<string> {
  const { stdout } = await run(["openssl", "passwd", "-6", "-salt", "atomisotest", PASSWORD]);
  return `# Unattended install of the example image onto the test machine's virtio disk.
[disk]
device = "/dev/vda"
${diskMode(c)}${c.encrypt ? `encrypt = true\npassphrase = "${PASSPHRASE}"\n` : ""}${layoutTables(c)}
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
  for (const c of CASES) {
    it(`${c.name}: installs the pinned image and boots it as an ostree deployment`, async () => {
      const artifacts = resolve("test-artifacts/install", c.name);
      await rm(artifacts, { recursive: true, force: true });
      const scratch = await mkdtemp(join(tmpdir(), `atomiso-install-${c.name}-`));
      const lock = await readLock(resolve(EXAMPLE_PROFILE, "../atomiso.lock"));
      let online: OnlineIso | undefined;
      try {
        let iso = inject("isoPath");
        // The origin records image.track (what the system updates from), else image.reference.
        const tracked = (await loadConfig(EXAMPLE_PROFILE)).config.image?.track;
        let reference = tracked ?? lock.reference;
        if (c.online) {
          online = await onlineIso(scratch, inject("isoPath"), lock);
          iso = online.iso;
          reference = tracked ?? ONLINE_REFERENCE;
          const sizes = {
            online: (await stat(iso)).size,
            embedded: (await stat(inject("isoPath"))).size,
          };
          console.log(
            `[${c.name}] ISO ${sizes.online >> 20} MiB (embedded: ${sizes.embedded >> 20} MiB)`,
          );
          // The online ISO leaves the image out but its live root carries skopeo (about 20 MiB):
          // the difference is the image less that.
          expect(sizes.embedded - sizes.online).toBeGreaterThan(lock.size - 40 * 2 ** 20);
        }
        // Beside Windows: the laptop's disk and its NVRAM (Windows Boot Manager first), which
        // the install guest writes its own entry into and the host reads back afterwards.
        let laptop: { record: WindowsDiskRecord; vars: string } | undefined;
        let target: string;
        if (c.besideWindows) {
          const record = await makeWindowsDisk(join(scratch, "laptop.raw"), LAPTOP);
          const template = ovmfFiles(c.firmware)?.varsTemplate as string;
          const vars = await makeLaptopVars(record, template, join(scratch, "install-vars.fd"));
          laptop = { record, vars };
          target = record.image;
        } else {
          target = await createBlankDisk(join(scratch, "target.qcow2"), 20);
        }
        // The online ISO's live system runs sshd: checked from the host while it installs,
        // through a forward of its port 22; the check ends (aborted) when the live guest does.
        const sshPort = online ? await freeHostPort() : undefined;
        const liveGone = new AbortController();
        const [installed, sshChecked] = await Promise.allSettled([
          unattendedInstall({
            iso,
            firmware: c.firmware,
            target,
            answerToml: await answer(c),
            runDir: join(artifacts, "install"),
            memoryMiB: c.memoryMiB,
            ...(online ? { guestForwards: online.guestForwards } : {}),
            ...(sshPort
              ? { hostForwards: [{ hostPort: sshPort, guestPort: SSH_GUEST_PORT }] }
              : {}),
            ...(laptop ? { ovmfVarsFile: laptop.vars } : {}),
          }).finally(() =>
            liveGone.abort(new Error("the live guest ended before the SSH check was done")),
          ),
          online && sshPort
            ? liveSshFindings({
                port: sshPort,
                user: online.ssh.user,
                keys: online.ssh.keys,
                signal: liveGone.signal,
              })
            : Promise.resolve(undefined),
        ]);
        if (installed.status === "rejected") throw installed.reason;
        if (sshChecked.status === "rejected") throw sshChecked.reason;
        const install = installed.value;
        const ssh: LiveSshFindings | undefined = sshChecked.value;
        if (online && ssh) {
          await writeFile(join(artifacts, "live-ssh.txt"), describeLiveSsh(ssh));
          console.log(
            `[live-ssh ${c.name}] key ${online.ssh.keys.configuredPublic.split(" ")[0]} logged in as ${online.ssh.user} ${ssh.loginSeconds}s after the guest started (${ssh.attempts} attempts), host key ${ssh.hostKey ?? "?"}; refused: password (exit ${ssh.password.exitCode}), another key (exit ${ssh.otherKey.exitCode}), root (exit ${ssh.root.exitCode}); transcripts in live-ssh.txt`,
          );
          expectLiveSsh(ssh, online.ssh.user, online.ssh.hostname);
        }
        const serial = await readFile(install.serialLog, "utf8");
        const download = /atomiso-timing download ([\d.]+)/.exec(serial)?.[1];
        console.log(
          `[install ${c.name}] ${install.seconds}s${download ? ` (download ${download} s)` : ""}: ${install.installedLine}; ${install.memoryLine ?? "no memory report"}`,
        );
        expect(install.installedLine).toContain(`installed ParticleOS 0.1.0 (${lock.digest})`);
        expect(install.after).toBe("poweroff");
        // The initrd copies the medium to memory only where it fits beside the installer
        // (installer-scripts/initramfs/toram-in-vm): not in the 1.5 GiB guest, in the 3 GiB one.
        expect(serial).toMatch(
          c.memoryMiB < 2048
            ? /atomiso-medium: copy no \(\d+ MiB of memory, the copy needs \d+ MiB\)/
            : /atomiso-medium: copy yes \(/,
        );
        // A TCG guest: the initrd kept programs' addresses fixed for the live system
        // (installer-scripts/initramfs/tcg-fixed-addresses).
        expect(serial).toMatch(/atomiso-aslr: address randomisation off \(QEMU without KVM/);
        if (c.encrypt)
          expect(serial).toMatch(/atomiso-install: encrypting \/dev\/vda\d \(root\) with LUKS2/);
        expect(serial).not.toContain(PASSPHRASE);
        if (c.online) {
          expect(serial).toMatch(/checking that the registry serves the system image sha256:/);
          expect(serial).toMatch(/atomiso-progress 1 Downloading the system image/);
          expect(download).toBeDefined();
          // SIGNED_ONLINE_INSTALL: the ISO carries a key and policy, so the installer checks the
          // image's signature (from the lookaside server) before it touches the disk.
          if (online?.signed)
            expect(serial).toMatch(
              new RegExp(
                `atomiso-install: image signature verified: ${lock.digest}: signed by ${online.signed.fingerprint}`,
              ),
            );
        } else {
          expect(serial).toMatch(/atomiso-install: verifying the system image sha256:/);
          expect(download).toBeUndefined();
        }

        // On OVMF the installed disk boots with Secure Boot on (Microsoft's keys enrolled).
        const bootFirmware: Firmware = c.firmware === "uefi" ? "uefi-secureboot" : c.firmware;
        let bootVars: string | undefined;
        if (laptop) {
          const found = await dualBootFindings(target, laptop.record, laptop.vars);
          await writeFile(
            join(artifacts, "boot-order.txt"),
            `${describeBootOrder(found.bootOrder)}\n`,
          );
          await writeFile(join(artifacts, "grub.cfg"), found.grubCfg);
          console.log(`[install ${c.name}] BootOrder:\n${describeBootOrder(found.bootOrder)}`);
          expectDualBoot(found, laptop.record, "ParticleOS");
          // The Secure Boot VARS (Microsoft's keys) gets the entries the install left: the
          // installed system must come up through its own firmware entry, as on the laptop.
          const sbTemplate = ovmfFiles(bootFirmware)?.varsTemplate as string;
          bootVars = join(scratch, "boot-vars.fd");
          await copyFile(sbTemplate, bootVars);
          await copyBootEntries(laptop.vars, bootVars);
        }
        // The online case's installed system updates from its registry after the checks below.
        const next = online ? await pushNextVersion(online.registry.host, scratch) : undefined;
        const sudo = (command: string) => `echo '${PASSWORD}' | sudo -S -p '' ${command}`;
        const booted = await bootInstalled({
          firmware: bootFirmware,
          target,
          ...(bootVars ? { ovmfVarsFile: bootVars } : {}),
          runDir: join(artifacts, "boot"),
          user: USER,
          password: PASSWORD,
          ...(c.encrypt ? { passphrase: PASSPHRASE } : {}),
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
            'echo "sysroot-dev=$(findmnt -n -o SOURCE /sysroot)"',
            "grep -o 'rd[.]luks[.]uuid=[0-9a-f-]*' /proc/cmdline || echo rd.luks=none",
            ...(c.besideWindows
              ? [
                  // No /boot partition: the kernels are read from the sysroot's own /boot.
                  'echo "boot-src=$(df --output=source /sysroot/boot | tail -n 1)"',
                  'test -n "$(ls /sysroot/boot/ostree)" && echo boot-kernels=sysroot',
                  'echo "home-src=$(findmnt -no SOURCE /var/home) $(findmnt -no FSTYPE /var/home)"',
                  'echo "home-size=$(($(lsblk -bno SIZE "$(findmnt -no SOURCE /var/home)") >> 20))"',
                ]
              : []),
            ...(c.btrfsLayout
              ? [
                  // Short lines: the source and the subvolume option, not the whole option list.
                  'echo "home-src=$(findmnt -no SOURCE /var/home)"',
                  "echo \"home-subvol=$(findmnt -no OPTIONS /var/home | grep -o 'subvol=[^,]*')\"",
                  "echo \"root-subvol=$(findmnt -no OPTIONS /sysroot | grep -o 'subvol=[^,]*')\"",
                  'echo "boot-fs=$(findmnt -no FSTYPE /boot)"',
                  "grep -o 'rootflags=subvol=@' /proc/cmdline || echo rootflags=none",
                ]
              : []),
            // The kernel's own word on Secure Boot and lockdown, asked in the guest: the
            // serial log's early lines are not proof enough (one CI run's log lacked them).
            `echo '${PASSWORD}' | sudo -S -p '' sh -c 'dmesg | grep -o -m1 "secureboot: Secure boot [a-z]*"; echo "lockdown=$(cat /sys/kernel/security/lockdown)"; grep -o "^luks-[0-9a-f-]* UUID=[0-9a-f-]*" /etc/crypttab || echo crypttab=none'`,
            ...(next
              ? [
                  // Stages 0.2.0 from the tracked channel; its log names the bytes fetched.
                  `${sudo("atomiso-update upgrade")} >/tmp/upgrade.log 2>&1; echo "upgrade-exit=$?"`,
                  "grep -E '^atomiso-update-fetched|error' /tmp/upgrade.log",
                ]
              : []),
          ],
          ...(online
            ? { guestForwards: online.guestForwards, commandsTimeoutMs: 15 * 60_000 }
            : {}),
        });
        // Diagnostics only: one CI run's serial log lacked the kernel's first lines.
        const bootLog = await readFile(booted.serialLog, "utf8");
        const banner = bootLog.includes("Linux version") ? "has" : "LACKS";
        console.log(
          `[boot ${c.name}] ${booted.passphrasePromptSeconds !== undefined ? `passphrase prompt after ${booted.passphrasePromptSeconds}s, ` : ""}login prompt after ${booted.loginPromptSeconds}s; serial log ${bootLog.length} chars, ${banner} the kernel banner`,
        );
        const out = booted.output;
        expect(out).toContain(" ostree=/ostree/boot.");
        expect(out).toMatch(/^sysroot=rw$/m);
        expect(out).toMatch(/^usr=ro$/m);
        expect(out).toMatch(/^\* particleos$/m);
        expect(out).toMatch(/^Version: 0\.1\.0$/m);
        expect(out).toMatch(
          new RegExp(`^image-reference=${reference.replace(/[.]/g, "\\.")}$`, "m"),
        );
        expect(out).toMatch(new RegExp(`^user=${USER} groups=.*\\bsudo\\b`, "m"));
        expect(out).toMatch(new RegExp(`^host=${HOSTNAME}$`, "m"));
        expect(out).toMatch(/^LANG=en_GB\.UTF-8$/m);
        expect(out).toMatch(/^zone=.*Europe\/London$/m);
        expect(out).toMatch(
          new RegExp(`^firmware=${c.firmware === "uefi" ? "efi" : "bios"}$`, "m"),
        );
        // The root's block device: the LUKS volume the initramfs opened (named as crypttab
        // names it) or a partition.
        let rootDev = "/dev/vda\\d";
        if (c.encrypt) {
          const uuid = /^rd\.luks\.uuid=([0-9a-f-]{36})$/m.exec(out)?.[1];
          expect(uuid).toBeDefined();
          rootDev = `/dev/mapper/luks-${uuid}`;
          expect(out).toMatch(new RegExp(`^luks-${uuid} UUID=${uuid}$`, "m"));
        } else {
          expect(out).toMatch(/^rd\.luks=none$/m);
          expect(out).toMatch(/^crypttab=none$/m);
        }
        if (c.btrfsLayout) {
          // findmnt names a btrfs subvolume's mount as device[/subvolume].
          expect(out).toMatch(new RegExp(`^sysroot-dev=${rootDev}\\[/@\\]$`, "m"));
          expect(out).toMatch(new RegExp(`^home-src=${rootDev}\\[/@home\\]$`, "m"));
          expect(out).toMatch(/^home-subvol=subvol=\/@home$/m);
          expect(out).toMatch(/^root-subvol=subvol=\/@$/m);
          expect(out).toMatch(/^boot-fs=ext4$/m);
          expect(out).toMatch(/^rootflags=subvol=@$/m);
        } else {
          expect(out).toMatch(new RegExp(`^sysroot-dev=${rootDev}$`, "m"));
        }
        if (c.besideWindows) {
          // The kernels on the root file system itself, /var/home on a partition of its own.
          const sysrootDev = /^sysroot-dev=(\S+)$/m.exec(out)?.[1];
          expect(out).toMatch(new RegExp(`^boot-src=${sysrootDev}$`, "m"));
          expect(out).toMatch(/^boot-kernels=sysroot$/m);
          const home = /^home-src=(\/dev\/vda\d) ext4$/m.exec(out)?.[1];
          expect(home, out).toBeDefined();
          expect(home).not.toBe(sysrootDev);
          const homeMiB = Number(/^home-size=(\d+)$/m.exec(out)?.[1]);
          expect(homeMiB).toBe(HOME_GIB * 1024);
        }
        if (c.firmware === "uefi") {
          expect(out).toMatch(/^secureboot: Secure boot enabled$/m);
          expect(out).toMatch(/^lockdown=.*\[integrity\]/m);
        } else {
          expect(out).not.toMatch(/Secure boot enabled/);
          expect(out).toMatch(/^lockdown=\[none\]/m);
        }
        if (online && next) {
          // The upgrade fetched the changed layer, config and manifest (kilobytes: only VERSION
          // changed), not the image (hundreds of MiB): the install kept the layers.
          expect(out, out).toMatch(/^upgrade-exit=0$/m);
          const fetched = Number(/^atomiso-update-fetched (\d+)$/m.exec(out)?.[1]);
          console.log(`[update ${c.name}] 0.2.0 (${next}): ${fetched} bytes fetched`);
          expect(fetched).toBeGreaterThan(0);
          expect(fetched).toBeLessThan(lock.size / 20);
          const upgraded = await bootInstalled({
            firmware: bootFirmware,
            target,
            runDir: join(artifacts, "boot-0.2.0"),
            user: USER,
            password: PASSWORD,
            ...(c.encrypt ? { passphrase: PASSPHRASE } : {}),
            commands: [
              ...VERSION_CHECKS,
              `${sudo("atomiso-update rollback")} >/dev/null 2>&1; echo "rollback-exit=$?"`,
            ],
          });
          expect(upgraded.output).toMatch(/^os-release=0\.2\.0\/0\.2\.0$/m);
          expect(upgraded.output).toMatch(/^Version: 0\.2\.0$/m);
          expect(upgraded.output).toMatch(/^rollback-exit=0$/m);
          const rolledBack = await bootInstalled({
            firmware: bootFirmware,
            target,
            runDir: join(artifacts, "boot-rollback"),
            user: USER,
            password: PASSWORD,
            ...(c.encrypt ? { passphrase: PASSPHRASE } : {}),
            commands: VERSION_CHECKS,
          });
          expect(rolledBack.output).toMatch(/^os-release=0\.1\.0\/0\.1\.0$/m);
          expect(rolledBack.output).toMatch(/^Version: 0\.1\.0$/m);
        }
      } finally {
        await online?.signed?.close();
        if (online) await stopRegistry(online.registry);
        await safeRemove(scratch);
      }
    });
  }
});

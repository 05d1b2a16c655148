// The unattended installer (installer-scripts/install/atomiso-install) with real tools on
// sparse disk images attached to loop devices: answer-file validation, every refusal before a
// byte is written, the partition layout (sfdisk --json, blkid) on EFI and BIOS, and the host
// configuration of a deployment-like tree (useradd/groupadd --root). `run` end to end needs a
// real ostree deployment and is proven by the boot tier.
//
// The payload is a tiny OCI layout made here (one tar layer, config, manifest, index.json with
// correct digests), so the real verify-payload passes on it. Mounts happen only in private
// mount namespaces (the installer re-executes itself under unshare for `configure`); loop
// devices are detached in afterAll.
import { existsSync } from "node:fs";
import {
  copyFile,
  lstat,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  readlink,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { parse, stringify } from "smol-toml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InstallPlan } from "../../src/install/install-plan.js";
import { mountsUnder } from "../../src/mounts/mountinfo.js";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { hasCommand, type RunResult, run } from "../../src/tools/exec.js";
import { inPrivateMountNamespace } from "../../src/tools/namespace.js";
import { makeTinyLayout } from "../support/tiny-layout.js";

const repo = join(import.meta.dirname, "../..");
const INSTALLER = join(repo, "installer-scripts/install/atomiso-install");
const SCRIPTS = join(repo, "installer-scripts/deploy");
/** Where the live system's dist-packages would have the atomiso_live package. */
const PACKAGE_PATH = join(repo, "installer-scripts");
const ANSWER = join(repo, "test/fixtures/unattended/answer.toml");
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const ESP = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
const BIOS_BOOT = "21686148-6449-6E6F-744E-656564454649";
const LINUX = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
const ROOT = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709";
/** xfsprogs is optional on the host: the xfs case is skipped without it. */
const HAVE_XFS = await hasCommand("mkfs.xfs");

type Answer = Record<string, Record<string, unknown>>;

/** The fixture answer's password hash. */
const hash = async () =>
  /password_hash = "(.*)"/.exec(await readFile(ANSWER, "utf8"))?.[1] ?? "no hash";

async function firstBytes(file: string, length: number): Promise<Buffer> {
  const fh = await open(file, "r");
  try {
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, 0);
    return buf;
  } finally {
    await fh.close();
  }
}

interface SfdiskPartition {
  node: string;
  start: number;
  size: number;
  type: string;
}

describe("unattended installer (atomiso-install)", () => {
  let work: string;
  let layout: string;
  let badLayout: string;
  let digest: string;
  const loops: string[] = [];
  const images = new Map<string, string>();

  /** A sparse disk image of `size` bytes on a new loop device. */
  async function makeDisk(name: string, size: number): Promise<string> {
    const image = join(work, `${name}.img`);
    const fh = await open(image, "w");
    await fh.truncate(size);
    await fh.close();
    const loop = (await run(["losetup", "--find", "--show", image])).stdout.trim();
    loops.push(loop);
    images.set(loop, image);
    // Partitions a previous user of this loop device added (partx) outlive its detach: drop
    // them, or "no partition appeared" below would see theirs.
    await run(["partx", "--delete", loop], { okExitCodes: [0, 1] });
    return loop;
  }

  async function expectUntouched(loop: string): Promise<void> {
    const image = images.get(loop) ?? "";
    // Still our disk: a partition node of another test's disk on a re-used loop name would
    // otherwise read as one the installer made.
    const backing = (await run(["losetup", "--noheadings", "--output", "BACK-FILE", loop])).stdout;
    expect(backing.trim(), `${loop} is not attached to ${image} any more`).toBe(image);
    expect((await firstBytes(image, MiB)).every((b) => b === 0)).toBe(true);
    expect(existsSync(`${loop}p1`)).toBe(false);
  }

  function plan(
    o: {
      storageGiB?: number;
      layout?: string;
      backend?: "bootc";
      online?: boolean;
      scripts?: string;
      encryption?: boolean;
    } = {},
  ): InstallPlan {
    return {
      version: 1,
      product: { name: "ParticleOS", id: "particleos", version: "0.1.0" },
      backend: o.backend ?? "ostree",
      image: {
        reference: "registry.example.org/particleos/system:0.1.0",
        digest,
        pinned: `registry.example.org/particleos/system@${digest}`,
        size: 4096,
        unpackedSize: 8192,
        autoUpdate: false,
      },
      payload: o.online
        ? // Nothing listens on port 9: the registry cannot be reached.
          { mode: "online", source: `127.0.0.1:9/particleos/system@${digest}`, tlsVerify: false }
        : { mode: "embedded", layout: o.layout ?? layout },
      ostree: { stateroot: "particleos", ref: "atomiso/particleos" },
      kargs: ["console=ttyS0,115200"],
      layout: {
        table: "gpt",
        biosBootMiB: 1,
        efiMiB: 100,
        bootMiB: 256,
        rootMinGiB: 1,
        filesystem: "ext4",
        filesystems: ["ext4", "xfs", "btrfs"],
        encryption: o.encryption ?? false,
      },
      users: { groups: ["users", "plugdev"], sudoGroup: "sudo", shell: "/bin/bash" },
      requirements: { storageGiB: o.storageGiB ?? 2, ramGiB: 1 },
      scripts: o.scripts ?? SCRIPTS,
    };
  }

  let n = 0;
  /** Writes a plan and an answer (the fixture with `change` applied per table). */
  async function files(
    device: string,
    change: Answer = {},
    o: Parameters<typeof plan>[0] = {},
  ): Promise<{ answer: string; plan: string }> {
    const base = parse(await readFile(ANSWER, "utf8")) as Answer;
    const merged: Answer = { ...base };
    for (const [table, keys] of Object.entries(change)) {
      merged[table] = { ...base[table], ...keys };
      for (const [k, v] of Object.entries(keys)) if (v === undefined) delete merged[table]?.[k];
    }
    merged.disk = { ...merged.disk, device };
    n++;
    const answer = join(work, `answer-${n}.toml`);
    const planFile = join(work, `plan-${n}.json`);
    await writeFile(answer, stringify(merged));
    await writeFile(planFile, JSON.stringify(plan(o), null, 2));
    return { answer, plan: planFile };
  }

  function installer(
    args: string[],
    o: { firmware?: "bios" | "efi"; namespace?: boolean } = {},
  ): Promise<RunResult> {
    return run([INSTALLER, ...args], {
      okExitCodes: [0, 1, 2],
      timeoutMs: 120_000,
      env: {
        ATOMISO_RUN_DIR: join(work, "run"),
        ATOMISO_FIRMWARE: o.firmware ?? "bios",
        PYTHONPATH: PACKAGE_PATH,
      },
    });
  }

  const lastError = (r: RunResult) => r.stderr.trim().split("\n").at(-1) ?? "";

  beforeAll(async () => {
    work = await mkdtemp("/var/tmp/atomiso-unattended-");
    layout = join(work, "payload");
    // The image's own accounts and zone files: the answer file is checked against them
    // before the disk is touched.
    digest = await makeTinyLayout(layout, work, {
      "etc/passwd":
        "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n",
      "etc/group": "root:x:0:\ndaemon:x:1:\n",
      "usr/lib/group": "root:x:0:\nrender:x:990:\n",
      "usr/share/zoneinfo/Europe/Berlin": await readFile("/usr/share/zoneinfo/Europe/Berlin"),
      "usr/share/zoneinfo/Etc/UTC": await readFile("/usr/share/zoneinfo/Etc/UTC"),
    });
    // The same layout with one byte of the layer blob changed.
    badLayout = join(work, "bad-payload");
    await run(["cp", "-a", "--", layout, badLayout]);
    const index = JSON.parse(await readFile(join(layout, "index.json"), "utf8"));
    const manifest = JSON.parse(
      await readFile(join(layout, "blobs/sha256", index.manifests[0].digest.slice(7)), "utf8"),
    );
    const blob = join(badLayout, "blobs/sha256", manifest.layers[0].digest.slice(7));
    const data = await readFile(blob);
    data[600] = (data[600] ?? 0) ^ 0xff;
    await writeFile(blob, data);
  });

  afterAll(async () => {
    for (const loop of loops.reverse()) {
      await run(["partx", "--delete", loop], { okExitCodes: [0, 1] });
      await run(["losetup", "--detach", loop], { okExitCodes: [0, 1] });
    }
    if (work) await safeRemove(work);
  });

  describe("refuses before writing anything", () => {
    let loop: string;
    beforeAll(async () => {
      loop = await makeDisk("refuse", 2 * GiB);
    });

    it("lists every answer-file problem in one pass (exit 2)", async () => {
      const f = await files(loop, {
        disk: { size: "20G", filesystem: "zfs" },
        user: { name: "Alice", password_hash: "hunter2" },
        system: { hostname: "bad_host!", timezone: "Mars/Olympus" },
        install: { after: "halt", kargs: ["root=/dev/sda"] },
      });
      const r = await installer(["check", "--answer", f.answer, "--plan", f.plan]);
      expect(r.exitCode).toBe(2);
      const lines = r.stderr.trim().split("\n");
      const at = (key: string) => lines.find((l) => l.startsWith(`${f.answer}: ${key}: `)) ?? "";
      expect(at("disk.size")).toMatch(
        /unknown key; known keys in \[disk\]: device, wipe, filesystem/,
      );
      expect(at("disk.filesystem")).toMatch(/"zfs" is not offered.*one of: ext4, xfs, btrfs/);
      expect(at("user.name")).toMatch(/"Alice" is not a valid user name/);
      expect(at("user.password_hash")).toMatch(/not a crypt\(3\) hash.*never a clear-text/);
      expect(at("system.hostname")).toMatch(/RFC 1123/);
      expect(at("system.timezone")).toMatch(/not a known time zone/);
      expect(at("install.after")).toMatch(/not one of reboot, poweroff, none/);
      expect(at("install.kargs[0]")).toMatch(/root=\/dev\/sda is set by the installer/);
      expect(lines.at(-1)).toMatch(/^atomiso-error: the answer file .* has 8 problem\(s\)/);
      // A clear-text password is never echoed.
      expect(r.stderr + r.stdout).not.toMatch(/hunter2/);
      await expectUntouched(loop);
    });

    // The encryption itself needs device-mapper, which these hosts lack: the boot tier's
    // encrypted install proves it (test/boot/install.test.ts).
    it("encryption the ISO does not offer, or without a usable passphrase (never echoed)", async () => {
      const offered = { encryption: true };
      const cases: [Answer, Parameters<typeof plan>[0], string, RegExp][] = [
        [
          { disk: { encrypt: true, passphrase: "correct horse battery" } },
          {},
          "disk.encrypt",
          /built without encryption; .*\[installer\.partition\] encryption = true/,
        ],
        [{ disk: { encrypt: true } }, offered, "disk.passphrase", /missing \(encrypt = true\)/],
        [
          { disk: { encrypt: true, passphrase: "s3cret" } },
          offered,
          "disk.passphrase",
          /shorter than 8 characters/,
        ],
        [
          { disk: { passphrase: "correct horse battery" } },
          offered,
          "disk.passphrase",
          /is given but encrypt is not true/,
        ],
      ];
      for (const [change, o, key, message] of cases) {
        const f = await files(loop, change, o);
        const r = await installer(["check", "--answer", f.answer, "--plan", f.plan]);
        expect(r.exitCode, key).toBe(2);
        const line = r.stderr.split("\n").find((l) => l.startsWith(`${f.answer}: ${key}: `));
        expect(line, key).toMatch(message);
        expect(r.stderr + r.stdout).not.toMatch(/s3cret|correct horse/);
      }
      await expectUntouched(loop);
    });

    it("a missing wipe consent: names the disk and the fix", async () => {
      const f = await files(loop, { disk: { wipe: undefined } });
      const r = await installer(["check", "--answer", f.answer, "--plan", f.plan]);
      expect(r.exitCode).toBe(1);
      expect(lastError(r)).toMatch(
        new RegExp(
          `^atomiso-error: installing erases every partition on ${loop} \\(2\\.0 GiB.*add wipe = true to \\[disk\\].*nothing was written`,
        ),
      );
      // partition would refuse the same way, before touching the disk.
      const p = await installer(["partition", "--answer", f.answer, "--plan", f.plan]);
      expect(p.exitCode).toBe(1);
      expect(lastError(p)).toMatch(/add wipe = true/);
      await expectUntouched(loop);
    });

    it("a disk smaller than the requirement", async () => {
      const f = await files(loop, {}, { storageGiB: 3 });
      const r = await installer(["partition", "--answer", f.answer, "--plan", f.plan]);
      expect(r.exitCode).toBe(1);
      expect(lastError(r)).toMatch(
        new RegExp(
          `^atomiso-error: ${loop} has 2\\.0 GiB, ParticleOS needs at least 3 GiB; choose a bigger disk`,
        ),
      );
      await expectUntouched(loop);
    });

    it("a corrupted payload blob, before partitioning", async () => {
      const f = await files(loop, {}, { layout: badLayout });
      const r = await installer(["partition", "--answer", f.answer, "--plan", f.plan]);
      expect(r.exitCode).toBe(1);
      expect(lastError(r)).toMatch(
        /^atomiso-error: layer 0 sha256:[0-9a-f]{64} does not match its content .*payload is damaged.*nothing was written/,
      );
      expect(r.stdout).not.toMatch(/partitioning|erasing/);
      await expectUntouched(loop);
    });

    it("an online payload whose registry cannot be reached, and a bootc backend the live system does not have", async () => {
      const online = await files(loop, {}, { online: true });
      const r = await installer([
        "partition",
        ...["--answer", online.answer, "--plan", online.plan],
        ...["--network-wait", "0"],
      ]);
      expect(r.exitCode).toBe(1);
      expect(r.stdout).toMatch(/checking that the registry serves the system image sha256:/);
      expect(lastError(r)).toMatch(
        /^atomiso-error: cannot reach the registry 127\.0\.0\.1:9 for the system image .*\(nothing was written to any disk\)$/,
      );
      await expectUntouched(loop);
      // A live system of an older atomiso: the deploy scripts without bootc-deploy.
      const scripts = join(work, "scripts-without-bootc");
      await mkdir(scripts);
      for (const name of ["verify-payload", "ostree-deploy"]) {
        await symlink(join(SCRIPTS, name), join(scripts, name));
      }
      const bootc = await files(loop, {}, { backend: "bootc", scripts });
      const b = await installer(["partition", "--answer", bootc.answer, "--plan", bootc.plan]);
      expect(b.exitCode).toBe(1);
      expect(lastError(b)).toMatch(
        /^atomiso-error: the bootc deploy backend .*\/bootc-deploy is not in the live system/,
      );
      await expectUntouched(loop);
    });

    it("a partition instead of a whole disk", async () => {
      const parted = await makeDisk("parted", 2 * GiB);
      await run(["sfdisk", parted], {
        input: "label: gpt\nsize=100MiB\nsize=100MiB\n",
        okExitCodes: [0, 1],
      });
      await run(["partx", "--update", parted]);
      const f = await files(`${parted}p2`);
      const r = await installer(["check", "--answer", f.answer, "--plan", f.plan]);
      expect(r.exitCode).toBe(1);
      expect(lastError(r)).toMatch(
        new RegExp(
          `^atomiso-error: ${parted}p2 is partition 2 of ${parted}, not a whole disk.*give ${parted}`,
        ),
      );
    });

    it("a disk with a mounted file system", async () => {
      const mounted = await makeDisk("mounted", 2 * GiB);
      await run(["mkfs.ext4", "-q", mounted]);
      const mnt = join(work, "mnt");
      await mkdir(mnt);
      const f = await files(mounted);
      const r = await run(
        inPrivateMountNamespace([
          "bash",
          "-c",
          'mount "$1" "$2" && "$3" check --answer "$4" --plan "$5"',
          "harness",
          mounted,
          mnt,
          INSTALLER,
          f.answer,
          f.plan,
        ]),
        {
          okExitCodes: [0, 1, 2],
          env: { ATOMISO_RUN_DIR: join(work, "run"), PYTHONPATH: PACKAGE_PATH },
        },
      );
      expect(r.exitCode).toBe(1);
      expect(lastError(r)).toMatch(
        new RegExp(`^atomiso-error: ${mounted} is in use \\(${mounted} on ${mnt}\\); unmount it`),
      );
      expect(await mountsUnder(work)).toEqual([]);
    });

    // issue 11: everything in the answer file that can refuse is refused before the disk is
    // touched (`partition` would write at once otherwise). Each case: exit 2, the key named,
    // the disk's first MiB still zero and no partition.
    const answerRefusals: [string, Answer, string, RegExp][] = [
      // A user the image already has (its own passwd/group files, read from the payload).
      [
        "user in the image's /etc/passwd",
        { user: { name: "daemon" } },
        "user.name",
        /"daemon" already exists in the image \(\/etc\/passwd \(user\)/,
      ],
      [
        "group in the image's /usr/lib/group",
        { user: { name: "render" } },
        "user.name",
        /"render" already exists in the image \(\/usr\/lib\/group \(group\)\)/,
      ],
      // Time zones that are not zones.
      [
        "leapseconds",
        { system: { timezone: "leapseconds" } },
        "system.timezone",
        /"leapseconds" is not a known time zone/,
      ],
      [
        "posixrules",
        { system: { timezone: "posixrules" } },
        "system.timezone",
        /"posixrules" is not a known time zone/,
      ],
      [
        "a zoneinfo directory",
        { system: { timezone: "Europe" } },
        "system.timezone",
        /"Europe" is not a known time zone/,
      ],
      [
        "a path out of zoneinfo",
        { system: { timezone: "../../../etc/passwd" } },
        "system.timezone",
        /is not a time zone name/,
      ],
      [
        "a zone table",
        { system: { timezone: "zone1970.tab" } },
        "system.timezone",
        /is not a time zone name/,
      ],
      [
        "a zone the image lacks",
        { system: { timezone: "Asia/Tokyo" } },
        "system.timezone",
        /the image has no \/usr\/share\/zoneinfo\/Asia\/Tokyo/,
      ],
      // GECOS text.
      [
        "a comma in the full name",
        { user: { full_name: "Liddell, Alice" } },
        "user.full_name",
        /contains ','/,
      ],
      [
        "a colon in the full name",
        { user: { full_name: "Alice:0:0" } },
        "user.full_name",
        /contains ':'/,
      ],
      [
        "an escape sequence in the full name",
        { user: { full_name: "Alice\u001b]0;owned\u0007" } },
        "user.full_name",
        /control or formatting character U\+001B/,
      ],
      [
        "a newline in the full name",
        { user: { full_name: "Alice\nroot" } },
        "user.full_name",
        /U\+000A/,
      ],
      [
        "a bidi override in the full name",
        { user: { full_name: "Alice\u202egnp.exe" } },
        "user.full_name",
        /U\+202E/,
      ],
      // Kernel arguments with GRUB or shell metacharacters.
      [
        "a newline in a kernel argument",
        { install: { kargs: ["quiet\nmenuentry x {"] } },
        "install.kargs[0]",
        /is not a kernel argument/,
      ],
      [
        "; in a kernel argument",
        { install: { kargs: ["quiet;reboot"] } },
        "install.kargs[0]",
        /is not a kernel argument/,
      ],
      [
        "$ in a kernel argument",
        { install: { kargs: ["init=$root"] } },
        "install.kargs[0]",
        /is not a kernel argument/,
      ],
      [
        "} in a kernel argument",
        { install: { kargs: ["quiet}"] } },
        "install.kargs[0]",
        /is not a kernel argument/,
      ],
      [
        "{ in a kernel argument",
        { install: { kargs: ["a={b"] } },
        "install.kargs[0]",
        /is not a kernel argument/,
      ],
      [
        "quotes in a kernel argument",
        { install: { kargs: ['dyndbg="file x +p"'] } },
        "install.kargs[0]",
        /is not a kernel argument/,
      ],
      [
        "a space in a kernel argument",
        { install: { kargs: ["quiet splash"] } },
        "install.kargs[0]",
        /is not a kernel argument/,
      ],
    ];

    it.each(answerRefusals)(
      "refuses %s before the disk is touched",
      async (_what, change, key, message) => {
        const f = await files(loop, change);
        const r = await installer(["partition", "--answer", f.answer, "--plan", f.plan]);
        expect(r.exitCode, r.stderr).toBe(2);
        const line = r.stderr.split("\n").find((l) => l.startsWith(`${f.answer}: ${key}: `));
        expect(line, r.stderr).toMatch(message);
        expect(lastError(r)).toMatch(/nothing was written/);
        expect(r.stdout).not.toMatch(/erasing|partitioning/);
        await expectUntouched(loop);
      },
    );

    it.each(["partition", "run"])(
      "%s: refuses a disk that is not the same disk any more after the payload check",
      async (command) => {
        // The kernel name stays, the disk behind it changes (as when a USB disk is swapped, or
        // a loop device re-attached) while the payload is verified: a verify-payload wrapper
        // re-attaches the loop device to another image of the same size after verifying.
        const swapped = await makeDisk(`swap-a-${command}`, 2 * GiB);
        const other = join(work, `swap-b-${command}.img`);
        const fh = await open(other, "w");
        await fh.truncate(2 * GiB);
        await fh.close();
        const scripts = join(work, `scripts-swapping-${command}`);
        await mkdir(scripts);
        await symlink(join(SCRIPTS, "ostree-deploy"), join(scripts, "ostree-deploy"));
        await writeFile(
          join(scripts, "verify-payload"),
          [
            "#!/bin/bash",
            `"${join(SCRIPTS, "verify-payload")}" "$@" || exit`,
            `losetup --detach "${swapped}" && losetup "${swapped}" "${other}"`,
            "",
          ].join("\n"),
          { mode: 0o755 },
        );
        const f = await files(swapped, {}, { scripts });
        const r = await installer([command, "--answer", f.answer, "--plan", f.plan]);
        expect(r.exitCode, r.stderr).toBe(1);
        expect(lastError(r)).toMatch(
          new RegExp(
            `^atomiso-error: ${swapped} is no longer the disk that was checked \\(loop/backing_file .*swap-a-${command}\\.img -> .*swap-b-${command}\\.img\\); nothing was written[^(]*$`,
          ),
        );
        expect(r.stdout).not.toMatch(/erasing/);
        // The loop device now holds the other image: neither image was written.
        expect(
          (await firstBytes(join(work, `swap-a-${command}.img`), MiB)).every((b) => b === 0),
        ).toBe(true);
        images.set(swapped, other);
        await expectUntouched(swapped);
      },
    );

    it("check on a good answer prints the plan and writes nothing", async () => {
      const f = await files(loop);
      const r = await installer(["check", "--answer", f.answer, "--plan", f.plan], {
        firmware: "efi",
      });
      expect(r.stderr).toBe("");
      expect(r.exitCode).toBe(0);
      const out = r.stdout;
      expect(out).toMatch(`atomiso-install: verifying the system image ${digest}`);
      expect(out).toMatch(/atomiso-install: firmware efi\n/);
      expect(out).toMatch(
        new RegExp(
          `atomiso-install: disk ${loop} \\(2\\.0 GiB.*every partition on it will be erased`,
        ),
      );
      expect(out).toMatch(
        new RegExp(`${loop}p1 esp 100 MiB type ${ESP} vfat label EFI at /boot/efi`),
      );
      expect(out).toMatch(new RegExp(`${loop}p2 bios-boot 1 MiB type ${BIOS_BOOT} unformatted`));
      expect(out).toMatch(
        new RegExp(`${loop}p3 boot 256 MiB type ${LINUX} ext4 label boot at /boot`),
      );
      expect(out).toMatch(
        new RegExp(`${loop}p4 root the rest type ${ROOT} ext4 label root at /\n`),
      );
      expect(out).toMatch(
        /user alice \(Alice Liddell\), groups users,plugdev,sudo, shell \/bin\/bash/,
      );
      expect(out).toMatch(
        /hostname particle, locale de_DE.UTF-8, time zone Europe\/Berlin, keyboard de/,
      );
      expect(out).toMatch(/kernel arguments console=ttyS0,115200 quiet/);
      expect(out).toMatch(/after the install: none/);
      expect(out).toMatch(/check passed: run would erase/);
      await expectUntouched(loop);
    });
  });

  describe("partition", () => {
    async function table(loop: string): Promise<{ label: string; partitions: SfdiskPartition[] }> {
      const { stdout } = await run(["sfdisk", "--json", loop]);
      return JSON.parse(stdout).partitiontable;
    }
    async function blkid(dev: string, tag: string): Promise<string> {
      const r = await run(["blkid", "-p", "-o", "value", "-s", tag, dev], { okExitCodes: [0, 2] });
      return r.stdout.trim();
    }
    function parsed(stdout: string) {
      return stdout
        .split("\n")
        .filter((l) => l.startsWith("partition "))
        .map((l) => l.split(" ").slice(1));
    }

    it("EFI: ESP, BIOS boot, /boot, root (ext4)", async () => {
      const loop = await makeDisk("efi", 2 * GiB);
      // Leftovers of an older install must not survive.
      await run(["mkfs.ext4", "-q", "-L", "old", loop]);
      const f = await files(loop);
      const r = await installer(["partition", "--answer", f.answer, "--plan", f.plan], {
        firmware: "efi",
      });
      expect(r.stderr).toBe("");
      expect(r.exitCode).toBe(0);
      const t = await table(loop);
      expect(t.label).toBe("gpt");
      expect(t.partitions.map((p) => p.type)).toEqual([ESP, BIOS_BOOT, LINUX, ROOT]);
      expect(t.partitions.map((p) => p.size).slice(0, 3)).toEqual([
        (100 * MiB) / 512,
        MiB / 512,
        (256 * MiB) / 512,
      ]);
      expect(t.partitions[0]?.start).toBe(2048);
      for (let i = 1; i < 4; i++) {
        const prev = t.partitions[i - 1];
        expect(t.partitions[i]?.start).toBe((prev?.start ?? 0) + (prev?.size ?? 0));
      }
      expect(t.partitions[3]?.size).toBeGreaterThan((1.5 * GiB) / 512);
      const rows = parsed(r.stdout);
      expect(rows.map((x) => x.slice(0, 4))).toEqual([
        ["1", "esp", `${loop}p1`, "vfat"],
        ["2", "bios-boot", `${loop}p2`, "-"],
        ["3", "boot", `${loop}p3`, "ext4"],
        ["4", "root", `${loop}p4`, "ext4"],
      ]);
      expect(await blkid(`${loop}p1`, "TYPE")).toBe("vfat");
      expect(await blkid(`${loop}p1`, "LABEL")).toBe("EFI");
      expect(await blkid(`${loop}p2`, "TYPE")).toBe("");
      expect(await blkid(`${loop}p3`, "TYPE")).toBe("ext4");
      expect(await blkid(`${loop}p3`, "LABEL")).toBe("boot");
      expect(await blkid(`${loop}p4`, "TYPE")).toBe("ext4");
      expect(await blkid(`${loop}p4`, "LABEL")).toBe("root");
      for (const row of rows) {
        const uuid = row[3] === "-" ? "-" : await blkid(row[2] ?? "", "UUID");
        expect(row[4]).toBe(uuid);
      }
    });

    it.skipIf(!HAVE_XFS)(
      "BIOS: BIOS boot, /boot, root (xfs); a partitioned disk is erased again",
      async () => {
        const loop = await makeDisk("bios", 2 * GiB);
        const f = await files(loop, { disk: { filesystem: "xfs" } });
        // Twice: the second run meets the first one's partitions and file systems.
        for (const firmware of ["efi", "bios"] as const) {
          const r = await installer(["partition", "--answer", f.answer, "--plan", f.plan], {
            firmware,
          });
          expect(r.stderr).toBe("");
          expect(r.exitCode).toBe(0);
        }
        const t = await table(loop);
        expect(t.label).toBe("gpt");
        expect(t.partitions.map((p) => p.type)).toEqual([BIOS_BOOT, LINUX, ROOT]);
        expect(t.partitions.map((p) => p.start)).toEqual([2048, 4096, 4096 + (256 * MiB) / 512]);
        expect(existsSync(`${loop}p4`)).toBe(false);
        expect(await blkid(`${loop}p1`, "TYPE")).toBe("");
        expect(await blkid(`${loop}p2`, "TYPE")).toBe("ext4");
        expect(await blkid(`${loop}p3`, "TYPE")).toBe("xfs");
        expect(await blkid(`${loop}p3`, "LABEL")).toBe("root");
      },
    );
  });

  describe("run", () => {
    // A successful run needs a real image and is proven by the boot tier; here the real
    // backend refuses the tiny payload (or the missing ostree), which exercises everything
    // around it: the private namespace, the mounts, progress pass-through and the cleanup.
    it("a failing backend: reported last, everything unmounted, no reboot", async () => {
      const loop = await makeDisk("run", 2 * GiB);
      const f = await files(loop, { install: { after: "reboot" } });
      const r = await installer(["run", "--answer", f.answer, "--plan", f.plan]);
      expect(r.exitCode).toBe(1);
      expect(r.stdout).toMatch(
        /^atomiso-install: partition 3 root \/dev\/loop\d+p3 ext4 [0-9a-f-]{36}$/m,
      );
      expect(r.stdout).toMatch(/^atomiso-install: target mounted at .*\/run\/target-/m);
      expect(r.stdout).toMatch(/^atomiso-progress 0 Checking the installation target$/m);
      expect(r.stdout).toMatch(/^atomiso-memory: MemTotal \d+ MiB, peak used \d+ MiB$/m);
      expect(r.stdout).not.toMatch(/installed ParticleOS|atomiso-install: reboot/);
      expect(lastError(r)).toMatch(
        new RegExp(`^atomiso-error: .*the disk ${loop} was erased and has no working system`),
      );
      expect(await mountsUnder(work)).toEqual([]);
      expect((await readdir(join(work, "run"))).filter((n) => n.startsWith("target-"))).toEqual([]);
      const log = await readFile(join(work, "run/atomiso-install.log"), "utf8");
      expect(log).toMatch(/\+ mount \/dev\/loop\d+p3 /);
      expect(log).toMatch(/\+ umount .*\/boot$/m);
      expect(log).not.toContain(await hash());
    });
  });

  describe("configure", () => {
    let root: string;
    let stateVar: string;
    let result: RunResult;
    const configure = (f: { answer: string; plan: string }) =>
      installer([
        "configure",
        ...["--answer", f.answer, "--plan", f.plan],
        ...["--deployment", root, "--var", stateVar],
      ]);

    beforeAll(async () => {
      // A deployment as ostree leaves it: /home -> var/home, an empty /var mount point, a
      // group (sudo) only in /usr/lib/group as on nss-altfiles images.
      root = join(work, "deploy/particleos/deploy/0123abcd.0");
      stateVar = join(work, "deploy/particleos/var");
      await mkdir(join(root, "etc/default"), { recursive: true });
      await mkdir(join(root, "usr/bin"), { recursive: true });
      await mkdir(join(root, "usr/lib"), { recursive: true });
      await mkdir(join(root, "usr/share/zoneinfo/Europe"), { recursive: true });
      await mkdir(join(root, "var"));
      await mkdir(stateVar, { recursive: true });
      await symlink("usr/bin", join(root, "bin"));
      await symlink("var/home", join(root, "home"));
      await writeFile(join(root, "usr/bin/bash"), "", { mode: 0o755 });
      await copyFile(
        "/usr/share/zoneinfo/Europe/Berlin",
        join(root, "usr/share/zoneinfo/Europe/Berlin"),
      );
      const etc = (name: string, text: string, mode = 0o644) =>
        writeFile(join(root, "etc", name), text, { mode });
      await etc("passwd", "root:x:0:0:root:/root:/bin/bash\n");
      await etc("shadow", "root:*:19000:0:99999:7:::\n", 0o640);
      await etc("group", "root:x:0:\nusers:x:100:\n");
      await etc("gshadow", "root:*::\nusers:*::\n", 0o640);
      await etc("hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
      await writeFile(join(root, "usr/lib/group"), "root:x:0:\nwheel:x:10:\nsudo:x:27:\n");
      result = await configure(await files("/dev/vda"));
    });

    it("succeeds and leaves nothing mounted", async () => {
      expect(result.stderr).toBe("");
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toMatch(/group sudo \(GID 27\) copied from \/usr\/lib\/group/);
      expect(await mountsUnder(work)).toEqual([]);
    });

    it("writes host name, hosts, locale, time zone and keyboard", async () => {
      const etc = (name: string) => readFile(join(root, "etc", name), "utf8");
      expect(await etc("hostname")).toBe("particle\n");
      expect(await etc("hosts")).toBe(
        "127.0.0.1\tlocalhost\n127.0.1.1\tparticle\n::1\tlocalhost ip6-localhost ip6-loopback\n",
      );
      expect(await etc("locale.conf")).toBe("LANG=de_DE.UTF-8\n");
      expect(await etc("default/locale")).toBe("LANG=de_DE.UTF-8\n");
      expect(await readlink(join(root, "etc/localtime"))).toBe("/usr/share/zoneinfo/Europe/Berlin");
      expect(await etc("vconsole.conf")).toBe("KEYMAP=de\n");
      expect(await etc("default/keyboard")).toMatch(/^XKBLAYOUT="de"$/m);
    });

    it("copies a /usr/lib/group group with its GID and creates a missing one", async () => {
      const group = await readFile(join(root, "etc/group"), "utf8");
      expect(group).toMatch(/^sudo:x:27:alice$/m);
      expect(group).toMatch(/^users:x:100:alice$/m);
      const plugdev = /^plugdev:x:(\d+):alice$/m.exec(group);
      expect(Number(plugdev?.[1])).toBeLessThan(1000);
      expect(await readFile(join(root, "etc/gshadow"), "utf8")).toMatch(/^sudo:!::alice$/m);
    });

    it("adds the user with its hash, groups and a home in the stateroot var", async () => {
      const passwd = await readFile(join(root, "etc/passwd"), "utf8");
      const m = /^alice:x:(\d+):(\d+):Alice Liddell:\/home\/alice:\/bin\/bash$/m.exec(passwd);
      expect(m).not.toBeNull();
      const shadow = await readFile(join(root, "etc/shadow"), "utf8");
      expect(shadow).toContain(`alice:${await hash()}:`);
      expect(shadow).toMatch(/^root:\*:/m); // root stays locked
      const home = await stat(join(stateVar, "home/alice"));
      expect(home.isDirectory()).toBe(true);
      expect(home.uid).toBe(Number(m?.[1]));
      expect(await readdir(join(root, "var"))).toEqual([]);
      expect((await lstat(join(root, "home"))).isSymbolicLink()).toBe(true);
    });

    it("refuses a time zone the image does not have", async () => {
      const r = await configure(await files("/dev/vda", { system: { timezone: "Asia/Tokyo" } }));
      expect(r.exitCode).toBe(1);
      expect(lastError(r)).toMatch(/^atomiso-error: the image has no time zone Asia\/Tokyo/);
      // Refused before anything was written.
      expect(r.stdout).toBe("");
      expect(await readFile(join(root, "etc/timezone"), "utf8")).toBe("Europe/Berlin\n");
    });
  });
});

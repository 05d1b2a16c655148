// atomiso's Calamares job modules (calamares/modules/atomisodeploy, atomisoumount) against
// their contract with Calamares, outside Calamares: a fake libcalamares
// (test/support/fake-libcalamares) keeps globalstorage and job.configuration in JSON files and
// records setprogress/debug/warning, and a small driver imports a module's main.py and calls
// run() as Calamares does. The deploy backend is a stand-in script that records its argv and
// prints the backend's output protocol (the real one is tested in ostree-deploy.test.ts).
//
// The modules make real bind mounts (/dev, /proc, /sys, /run, the stateroot var, /boot...)
// into a deployment-like tree under /var/tmp, so every run happens in a private mount
// namespace (unshare): the harness runs the jobs, then dumps /proc/self/mountinfo of that same
// namespace, and all mounts vanish when it exits. The tree is removed with safeRemove only.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { run } from "../../src/tools/exec.js";
import { inPrivateMountNamespace } from "../../src/tools/namespace.js";

const repo = join(import.meta.dirname, "../..");
const MODULES = join(repo, "calamares/modules");
const DRIVER = join(repo, "test/support/fake-libcalamares/run-job.py");
const STATEROOT = "particleos";
const CSUM = "7d3c1a9e0b5f2468ace13579bdf02468ace13579bdf02468ace13579bdf02468";
const DIGEST = `sha256:${"ab".repeat(32)}`;
const LOG = "/var/log/atomiso/deploy.log";

// Runs inside `unshare --mount --propagation private`: makes root/boot (and root/boot/efi) real
// mount points as Calamares' mount module would, runs atomisodeploy, dumps the mounts, then
// (optionally) atomisoumount twice, dumping the mounts again.
const HARNESS = `#!/bin/bash
# usage: harness CASE_DIR MODULES_DIR DRIVER EFI(0|1) UMOUNT(0|1)
set -euo pipefail
case=$1 modules=$2 driver=$3 efi=$4 umount=$5
if [ "$(readlink /proc/self/ns/mnt)" = "$(readlink /proc/1/ns/mnt)" ]; then
  echo "harness: not in a private mount namespace" >&2
  exit 1
fi
mounts() { awk '{ print $5 "\\t" $4 "\\t" $6 }' /proc/self/mountinfo; }
mount --bind "$case/root/boot" "$case/root/boot"
if [ "$efi" = 1 ]; then mount --bind "$case/root/boot/efi" "$case/root/boot/efi"; fi
# Mounts Calamares' mount module made below the root (DEVICE OPTIONS PATH per line), e.g. a
# btrfs subvolume at var/home.
if [ -f "$case/premounts" ]; then
  while read -r dev opts path; do
    mkdir -p "$case/root/$path"
    mount -o "$opts" "$dev" "$case/root/$path"
  done <"$case/premounts"
fi
export FAKE_CALAMARES_GS=$case/gs.json FAKE_CALAMARES_CONFIG=$case/config.json
export FAKE_DEPLOY_DIR=$case
FAKE_CALAMARES_EVENTS=$case/events-deploy.jsonl python3 -B "$driver" "$modules/atomisodeploy" >"$case/deploy.json"
mounts >"$case/mounts-deploy.tsv"
cp "$case/gs.json" "$case/gs-deploy.json"
if [ "$umount" = 1 ]; then
  FAKE_CALAMARES_EVENTS=$case/events-umount.jsonl python3 -B "$driver" "$modules/atomisoumount" >"$case/umount.json"
  mounts >"$case/mounts-umount.tsv"
  FAKE_CALAMARES_EVENTS=$case/events-umount.jsonl python3 -B "$driver" "$modules/atomisoumount" >"$case/umount-again.json"
fi
`;

// The backend stand-in: records its argv, prints the output protocol; FAKE_DEPLOY_FAIL=1 makes
// it fail the way the real one does (atomiso-error: on stderr, status 1).
const FAKE_BACKEND = `#!/bin/bash
printf '%s\\n' "$0" "$@" >"$FAKE_DEPLOY_DIR/argv.txt"
echo "atomiso-progress 0 Checking the installation target"
echo "atomiso: image verified"
echo "progress from a helper that is not a protocol line"
echo "atomiso-progress 50 Committing the system image to ostree"
if [ -e "$FAKE_DEPLOY_DIR/fail" ]; then
  echo "some helper output" >&2
  echo "atomiso-error: ostree commit failed; is the root file system full? (the target is partly written: let the installer format it again before retrying); log: ${LOG}" >&2
  exit 1
fi
echo "atomiso-timing total 12.3"
echo "atomiso-progress 100 The system image is installed"
`;

interface Case {
  dir: string;
  root: string;
  deployment: string;
  stateVar: string;
}

interface Outcome {
  deploy: { result: [string, string] | null; status: string | null };
  umount?: { result: [string, string] | null };
  umountAgain?: { result: [string, string] | null };
  argv: string[];
  events: { kind: string; value: unknown; status?: string | null }[];
  gsAfterDeploy: Record<string, unknown>;
  gs: Record<string, unknown>;
  /** mount point -> [root of the mount in its file system, mount options] */
  mountsAfterDeploy: Map<string, [string, string]>;
  mountsAfterUmount?: Map<string, [string, string]>;
}

function parseMounts(text: string): Map<string, [string, string]> {
  const m = new Map<string, [string, string]>();
  for (const line of text.split("\n").filter(Boolean)) {
    const [target = "", root = "", opts = ""] = line.split("\t");
    m.set(target, [root, opts]);
  }
  return m;
}

function under(mounts: Map<string, [string, string]>, dir: string): string[] {
  return [...mounts.keys()].filter((t) => t === dir || t.startsWith(`${dir}/`));
}

describe("Calamares job modules atomisodeploy and atomisoumount", () => {
  let work: string;
  let harness: string;
  let scripts: string;
  let n = 0;

  beforeAll(async () => {
    await mkdir("/var/tmp", { recursive: true });
    work = await mkdtemp("/var/tmp/atomiso-calamares-test-");
    harness = join(work, "harness");
    await writeFile(harness, HARNESS, { mode: 0o755 });
    scripts = join(work, "scripts");
    await mkdir(scripts);
    for (const name of ["ostree-deploy", "bootc-deploy"]) {
      await writeFile(
        join(scripts, name),
        FAKE_BACKEND.replace(/^#!\/bin\/bash\n/, `#!/bin/bash\n# ${name}\n`),
        {
          mode: 0o755,
        },
      );
    }
  });

  afterAll(async () => {
    // The namespaces are gone with their processes, so nothing is mounted here any more;
    // safeRemove refuses if something still is.
    if (work) await safeRemove(work);
  });

  /** A target as the backend leaves it: root/ostree/deploy/<os>/{deploy/<csum>.0,var}, /boot. */
  async function makeCase(
    o: {
      device?: string;
      firmware?: string;
      backend?: string;
      noStateVar?: boolean;
      noRun?: boolean;
      /** The root is encrypted, with this LUKS UUID ("" for none recorded). */
      luks?: string;
      /** A swap partition (Calamares' "small" swap), encrypted with this LUKS UUID if given. */
      swap?: { luks?: string };
    } = {},
  ): Promise<Case> {
    const dir = join(work, `case-${++n}`);
    const root = join(dir, "root");
    const base = join(root, "ostree/deploy", STATEROOT);
    const deployment = join(base, "deploy", `${CSUM}.0`);
    const stateVar = join(base, "var");
    const dirs = ["etc", "usr/lib", "var", "boot", "sysroot", "dev", "proc", "sys"];
    if (!o.noRun) dirs.push("run");
    for (const d of dirs) await mkdir(join(deployment, d), { recursive: true });
    await symlink("var/home", join(deployment, "home"));
    await writeFile(join(deployment, "etc/group"), "root:x:0:\nusers:x:100:\n");
    await writeFile(join(deployment, "etc/gshadow"), "root:*::\nusers:*::\n");
    await writeFile(
      join(deployment, "usr/lib/group"),
      "root:x:0:\nadm:x:4:\naudio:x:29:\nwheel:x:10:\ndocker:x:990:\n",
    );
    if (!o.noStateVar) {
      await mkdir(stateVar, { recursive: true });
      await writeFile(join(stateVar, "marker"), "stateroot var\n");
    }
    await mkdir(join(root, "boot/efi"), { recursive: true });
    await writeFile(join(root, "boot/vmlinuz-test"), "kernel\n");
    const plan = {
      version: 1,
      product: { name: "ParticleOS", id: "particleos", version: "0.1.0" },
      backend: o.backend ?? "ostree",
      image: {
        reference: "registry.example.org/particleos/system:0.1.0",
        digest: DIGEST,
        pinned: `registry.example.org/particleos/system@${DIGEST}`,
        size: 1,
        unpackedSize: 2,
      },
      payload: { mode: "embedded", layout: "/run/live/medium/atomiso/payload" },
      ostree: { stateroot: STATEROOT, ref: `atomiso/${STATEROOT}` },
      kargs: ["console=tty0", "console=ttyS0,115200"],
      layout: {
        table: "gpt",
        biosBootMiB: 1,
        efiMiB: 512,
        bootMiB: 1024,
        rootMinGiB: 8,
        filesystem: "ext4",
        filesystems: ["ext4"],
        encryption: true,
      },
      users: {
        groups: ["users", "audio", "docker", "nosuchgroup"],
        sudoGroup: "wheel",
        shell: "/bin/bash",
      },
      requirements: { storageGiB: 12, ramGiB: 2 },
      scripts,
    };
    await writeFile(join(dir, "install.json"), JSON.stringify(plan, null, 2));
    await writeFile(join(dir, "config.json"), JSON.stringify({ plan: join(dir, "install.json") }));
    const device = o.device ?? "/dev/vda4";
    const gs: Record<string, unknown> = {
      rootMountPoint: root,
      partitions: [
        {
          device: device.replace(/4$/, "1"),
          mountPoint: "",
          fs: "unformatted",
          uuid: "",
          claimed: true,
        },
        {
          device: device.replace(/4$/, "2"),
          mountPoint: "/boot/efi",
          fs: "fat32",
          uuid: "AAAA-BBBB",
          claimed: true,
        },
        {
          device: device.replace(/4$/, "3"),
          mountPoint: "/boot",
          fs: "ext4",
          uuid: "1111",
          claimed: true,
        },
        {
          device,
          mountPoint: "/",
          fs: "ext4",
          uuid: "2222",
          claimed: true,
          ...(o.luks !== undefined ? { luksMapperName: "luks-root", luksUuid: o.luks } : {}),
        },
        ...(o.swap
          ? [
              {
                device: device.replace(/4$/, "5"),
                mountPoint: "",
                fs: "linuxswap",
                uuid: "5555-swap",
                claimed: true,
                ...(o.swap.luks ? { luksMapperName: "luks-swap", luksUuid: o.swap.luks } : {}),
              },
            ]
          : []),
      ],
    };
    if (o.firmware !== "none") gs.firmwareType = o.firmware ?? "bios";
    await writeFile(join(dir, "gs.json"), JSON.stringify(gs, null, 2));
    return { dir, root, deployment, stateVar };
  }

  async function runCase(c: Case, o: { efi?: boolean; umount?: boolean } = {}): Promise<Outcome> {
    await run(
      inPrivateMountNamespace([
        "bash",
        harness,
        c.dir,
        MODULES,
        DRIVER,
        o.efi ? "1" : "0",
        o.umount === false ? "0" : "1",
      ]),
    );
    const json = async (f: string) => JSON.parse(await readFile(join(c.dir, f), "utf8"));
    const text = async (f: string) => readFile(join(c.dir, f), "utf8");
    const out: Outcome = {
      deploy: await json("deploy.json"),
      argv: existsSync(join(c.dir, "argv.txt"))
        ? (await text("argv.txt")).split("\n").slice(0, -1)
        : [],
      events: (await text("events-deploy.jsonl"))
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
      gsAfterDeploy: await json("gs-deploy.json"),
      gs: await json("gs.json"),
      mountsAfterDeploy: parseMounts(await text("mounts-deploy.tsv")),
    };
    if (o.umount !== false) {
      out.umount = await json("umount.json");
      out.umountAgain = await json("umount-again.json");
      out.mountsAfterUmount = parseMounts(await text("mounts-umount.tsv"));
    }
    return out;
  }

  const expectedArgv = (
    root: string,
    firmware: string,
    disk: string,
    backend = "ostree-deploy",
  ) => [
    join(scripts, backend),
    "--layout",
    "/run/live/medium/atomiso/payload",
    "--digest",
    DIGEST,
    "--target-imgref",
    "registry.example.org/particleos/system:0.1.0",
    "--root",
    root,
    "--stateroot",
    STATEROOT,
    "--ref",
    `atomiso/${STATEROOT}`,
    "--firmware",
    firmware,
    "--disk",
    disk,
    "--log",
    LOG,
    "--karg",
    "console=tty0",
    "--karg",
    "console=ttyS0,115200",
  ];

  it("deploys on BIOS, binds the deployment, switches rootMountPoint, and atomisoumount undoes it", async () => {
    const c = await makeCase();
    const o = await runCase(c);
    const D = c.deployment;
    expect(o.deploy.result).toBeNull();

    // The backend got exactly the plan's and globalstorage's facts.
    expect(o.argv).toEqual(expectedArgv(c.root, "bios", "/dev/vda"));

    // Progress: the backend's percentages scaled to 95 %, its messages as the status, 1.0 at
    // the end; every backend line went to the debug log.
    const progress = o.events.filter((e) => e.kind === "progress");
    expect(progress.map((e) => e.value)).toEqual([0, 0, 0.475, 0.95, 1]);
    expect(progress.slice(1, 4).map((e) => e.status)).toEqual([
      "Checking the installation target",
      "Committing the system image to ostree",
      "The system image is installed",
    ]);
    const debug = o.events.filter((e) => e.kind === "debug").map((e) => String(e.value));
    expect(debug).toContain("deploy: atomiso: image verified");
    expect(debug).toContain("deploy: progress from a helper that is not a protocol line");
    expect(debug).toContain("deploy: atomiso-timing total 12.3");

    // Groups only in /usr/lib/group, wanted by the plan, copied with their GID; others not.
    expect(await readFile(join(D, "etc/group"), "utf8")).toBe(
      "root:x:0:\nusers:x:100:\naudio:x:29:\ndocker:x:990:\nwheel:x:10:\n",
    );
    expect(await readFile(join(D, "etc/gshadow"), "utf8")).toBe(
      "root:*::\nusers:*::\naudio:!::\ndocker:!::\nwheel:!::\n",
    );
    // /home -> var/home resolves for useradd -m.
    expect(existsSync(join(c.stateVar, "home"))).toBe(true);

    // The mounts, in order, recorded; rootMountPoint is the deployment.
    const wanted = ["var", "boot", "sysroot", "dev", "proc", "sys", "run", "usr"].map((d) =>
      join(D, d),
    );
    expect(o.gsAfterDeploy.atomisoMounts).toEqual(wanted);
    expect(o.gsAfterDeploy.atomisoOriginalRoot).toBe(c.root);
    expect(o.gsAfterDeploy.rootMountPoint).toBe(D);
    const m = o.mountsAfterDeploy;
    for (const w of wanted) expect(m.has(w), w).toBe(true);
    expect(m.has(join(D, "boot/efi"))).toBe(false);
    expect(m.get(join(D, "var"))?.[0]).toMatch(/\/root\/ostree\/deploy\/particleos\/var$/);
    expect(m.get(join(D, "boot"))?.[0]).toMatch(/\/root\/boot$/);
    expect(m.get(join(D, "sysroot"))?.[0]).toMatch(/\/root$/);
    expect(m.get(join(D, "proc"))?.[0]).toBe("/");
    expect(m.get(join(D, "usr"))?.[1]).toMatch(/(^|,)ro(,|$)/);
    expect(m.get(join(D, "var"))?.[1]).toMatch(/(^|,)rw(,|$)/);
    // The rbinds bring their submounts (/dev/pts, /sys/fs/cgroup...).
    expect(under(m, join(D, "dev")).length).toBeGreaterThan(1);
    expect(under(m, join(D, "sys")).length).toBeGreaterThan(1);
    // Nothing propagated into /sysroot (the physical root bound below itself).
    expect(under(m, join(D, "sysroot"))).toEqual([join(D, "sysroot")]);

    // atomisoumount: everything below D is gone, the target's own mounts stay, rootMountPoint
    // is the physical root again; a second run is a no-op.
    expect(o.umount?.result).toBeNull();
    expect(under(o.mountsAfterUmount ?? new Map(), D)).toEqual([]);
    expect(o.mountsAfterUmount?.has(join(c.root, "boot"))).toBe(true);
    expect(o.gs.rootMountPoint).toBe(c.root);
    expect(o.gs.atomisoMounts).toEqual([]);
    expect(o.umountAgain?.result).toBeNull();
    // The deployment's files are untouched by the unmounting.
    expect(await readFile(join(c.stateVar, "marker"), "utf8")).toBe("stateroot var\n");
    expect(existsSync(join(c.root, "boot/vmlinuz-test"))).toBe(true);
  });

  it("on UEFI with an NVMe disk, passes --firmware efi --disk /dev/nvme0n1 and binds the ESP", async () => {
    const c = await makeCase({ device: "/dev/nvme0n1p4", firmware: "efi" });
    const o = await runCase(c, { efi: true });
    const D = c.deployment;
    expect(o.deploy.result).toBeNull();
    expect(o.argv).toEqual(expectedArgv(c.root, "efi", "/dev/nvme0n1"));
    expect(o.gsAfterDeploy.atomisoMounts).toEqual(
      ["var", "boot", "boot/efi", "sysroot", "dev", "proc", "sys", "run", "usr"].map((d) =>
        join(D, d),
      ),
    );
    expect(o.mountsAfterDeploy.get(join(D, "boot/efi"))?.[0]).toMatch(/\/root\/boot\/efi$/);
    expect(under(o.mountsAfterUmount ?? new Map(), D)).toEqual([]);
    expect(o.mountsAfterUmount?.has(join(c.root, "boot/efi"))).toBe(true);
    expect(o.gs.rootMountPoint).toBe(c.root);
  });

  it("runs bootc-deploy when the plan's backend is bootc", async () => {
    const c = await makeCase({ backend: "bootc", device: "/dev/sda4" });
    const o = await runCase(c);
    expect(o.deploy.result).toBeNull();
    expect(o.argv).toEqual(expectedArgv(c.root, "bios", "/dev/sda", "bootc-deploy"));
  });

  it("returns the backend's atomiso-error as the failure message and mounts nothing", async () => {
    const c = await makeCase();
    await writeFile(join(c.dir, "fail"), "");
    const o = await runCase(c);
    expect(o.deploy.result).toEqual([
      "Installing ParticleOS failed",
      `ostree commit failed; is the root file system full? (the target is partly written: let the installer format it again before retrying); log: ${LOG}.\n\nThe full log is in ${LOG} on the live system; keep it when you report the problem.`,
    ]);
    expect(o.events.filter((e) => e.kind === "progress").map((e) => e.value)).toEqual([
      0, 0, 0.475,
    ]);
    expect(o.deploy.status).toBe("Committing the system image to ostree");
    expect(under(o.mountsAfterDeploy, c.deployment)).toEqual([]);
    expect(o.gsAfterDeploy.rootMountPoint).toBe(c.root);
    expect(o.gsAfterDeploy.atomisoMounts).toBeUndefined();
    // The emergency atomisoumount after a failure: nothing recorded, nothing to do.
    expect(o.umount?.result).toBeNull();
    expect(o.gs.rootMountPoint).toBe(c.root);
    expect(await readFile(join(c.deployment, "etc/group"), "utf8")).toBe(
      "root:x:0:\nusers:x:100:\n",
    );
  });

  it("refuses when the stateroot var is missing, leaving no mounts", async () => {
    const c = await makeCase({ noStateVar: true });
    const o = await runCase(c, { umount: false });
    expect(o.deploy.result?.[0]).toBe("Preparing the installed system failed");
    expect(o.deploy.result?.[1]).toContain(
      `${c.stateVar} does not exist, so it cannot be mounted at /var`,
    );
    expect(under(o.mountsAfterDeploy, c.deployment)).toEqual([]);
    expect(o.gsAfterDeploy.rootMountPoint).toBe(c.root);
    expect(o.gsAfterDeploy.atomisoMounts).toEqual([]);
  });

  it("undoes the mounts already made when a later one fails", async () => {
    const c = await makeCase({ noRun: true });
    const o = await runCase(c, { umount: false });
    expect(o.deploy.result?.[0]).toBe("Preparing the installed system failed");
    expect(o.deploy.result?.[1]).toContain(
      `The new system has no /run directory (${join(c.deployment, "run")})`,
    );
    expect(under(o.mountsAfterDeploy, c.deployment)).toEqual([]);
    expect(o.gsAfterDeploy.rootMountPoint).toBe(c.root);
    expect(o.gsAfterDeploy.atomisoMounts).toEqual([]);
    // It got as far as /sys before failing, and undid those mounts in reverse order.
    const debug = o.events.filter((e) => e.kind === "debug").map((e) => String(e.value));
    const done = ["var", "boot", "sysroot", "dev", "proc", "sys"].map((d) => join(c.deployment, d));
    expect(debug.filter((l) => l.includes(" at ")).map((l) => l.split(" at ")[1])).toEqual(done);
    expect(debug.filter((l) => l.endsWith(" again")).map((l) => l.split(" ")[2])).toEqual(
      [...done].reverse(),
    );
  });

  it("passes encrypted partitions' LUKS UUIDs to the initramfs, records them in crypttab, and swaps on the opened swap", async () => {
    const uuid = "0f4e2a52-7c1d-4b8e-9a3f-5d6c7b8a9e01";
    const swap = "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
    const c = await makeCase({ luks: uuid, swap: { luks: swap } });
    // The image's cryptsetup package ships a commented crypttab: its lines stay.
    await writeFile(join(c.deployment, "etc/crypttab"), "# <target name> <source device>\n");
    const o = await runCase(c, { umount: false });
    expect(o.deploy.result).toBeNull();
    expect(o.argv).toEqual([
      ...expectedArgv(c.root, "bios", "/dev/vda"),
      "--karg",
      `rd.luks.uuid=${uuid}`,
      "--karg",
      `rd.luks.uuid=${swap}`,
    ]);
    expect(await readFile(join(c.deployment, "etc/crypttab"), "utf8")).toBe(
      `# <target name> <source device>\nluks-${uuid} UUID=${uuid} none luks,discard\nluks-${swap} UUID=${swap} none luks,discard\n`,
    );
    expect(await readFile(join(c.deployment, "etc/fstab"), "utf8")).toBe(
      `/dev/mapper/luks-${swap} none swap defaults 0 0\n`,
    );
  });

  it("adds a plain swap partition to the deployment's fstab, after the backend's lines", async () => {
    const c = await makeCase({ swap: {} });
    await writeFile(join(c.deployment, "etc/fstab"), "UUID=1111 /boot ext4 defaults 1 2\n");
    const o = await runCase(c, { umount: false });
    expect(o.deploy.result).toBeNull();
    expect(await readFile(join(c.deployment, "etc/fstab"), "utf8")).toBe(
      "UUID=1111 /boot ext4 defaults 1 2\nUUID=5555-swap none swap defaults 0 0\n",
    );
    expect(existsSync(join(c.deployment, "etc/crypttab"))).toBe(false);
  });

  it("refuses an encrypted partition whose LUKS UUID Calamares did not record", async () => {
    const c = await makeCase({ luks: "" });
    const o = await runCase(c, { umount: false });
    expect(o.deploy.result?.[0]).toBe("Encrypted partition without a LUKS UUID");
    expect(o.deploy.result?.[1]).toContain("/dev/vda4 is encrypted");
    expect(o.argv).toEqual([]);
    expect(o.gsAfterDeploy.rootMountPoint).toBe(c.root);
  });

  it("explains a missing globalstorage key without running the backend", async () => {
    const c = await makeCase({ firmware: "none" });
    const o = await runCase(c, { umount: false });
    expect(o.deploy.result?.[0]).toBe("The installer is misconfigured");
    expect(o.deploy.result?.[1]).toContain("firmwareType");
    expect(o.argv).toEqual([]);
  });
});

// Calamares' partition job on trixie leaves the "bios-boot" partition a Linux partition and
// gives the ext4 /boot the ESP type (its "boot" flag): atomisodeploy corrects both types on a
// real GPT disk (a loop device) before the backend looks at it.
describe("atomisodeploy on the layouts Calamares hands over", () => {
  let work: string;
  let loop = "";
  let fsUuid = "";
  const scriptsDir = () => join(work, "scripts");

  beforeAll(async () => {
    work = await mkdtemp("/var/tmp/atomiso-calamares-layouts-");
    await mkdir(scriptsDir());
    await writeFile(join(scriptsDir(), "ostree-deploy"), FAKE_BACKEND, { mode: 0o755 });
    // A btrfs file system as Calamares' mount module leaves it with atomiso's mount.conf:
    // subvolumes @, @home, @snapshots at the top level.
    const img = join(work, "btrfs.img");
    await run(["truncate", "-s", "256M", img]);
    loop = (await run(["losetup", "-f", "--show", img])).stdout.trim();
    await run(["mkfs.btrfs", "-q", loop]);
    const top = join(work, "top");
    await mkdir(top);
    await run(
      inPrivateMountNamespace([
        "sh",
        "-c",
        'mount "$1" "$2" && btrfs -q subvolume create "$2/@" && btrfs -q subvolume create "$2/@home" && btrfs -q subvolume create "$2/@snapshots" && umount "$2"',
        "sh",
        loop,
        top,
      ]),
    );
    fsUuid = (await run(["blkid", "-p", "-o", "value", "-s", "UUID", loop])).stdout.trim();
  });

  afterAll(async () => {
    if (loop) await run(["losetup", "-d", loop]).catch(() => undefined);
    if (work) await safeRemove(work);
  });

  /** A deployment tree like the backend leaves, and globalstorage with these partitions. */
  async function layoutCase(name: string, partitions: object[], gsExtra: object, premounts = "") {
    const dir = join(work, name);
    const root = join(dir, "root");
    const base = join(root, "ostree/deploy", STATEROOT);
    const deployment = join(base, "deploy", `${CSUM}.0`);
    for (const d of ["etc", "usr", "var", "boot/efi", "sysroot", "dev", "proc", "sys", "run"]) {
      await mkdir(join(deployment, d), { recursive: true });
    }
    await writeFile(join(deployment, "etc/group"), "root:x:0:\n");
    await mkdir(join(base, "var/home"), { recursive: true });
    await mkdir(join(root, "boot/efi"), { recursive: true });
    const plan = {
      version: 1,
      product: { name: "ParticleOS", id: "particleos", version: "0.1.0" },
      backend: "ostree",
      image: {
        reference: "registry.example.org/particleos/system:0.1.0",
        digest: DIGEST,
        pinned: `registry.example.org/particleos/system@${DIGEST}`,
        size: 1,
        unpackedSize: 2,
      },
      payload: { mode: "embedded", layout: "/run/live/medium/atomiso/payload" },
      ostree: { stateroot: STATEROOT, ref: `atomiso/${STATEROOT}` },
      kargs: ["console=ttyS0,115200"],
      layout: {
        table: "gpt",
        biosBootMiB: 1,
        efiMiB: 512,
        bootMiB: 1024,
        rootMinGiB: 8,
        filesystem: "btrfs",
        filesystems: ["ext4", "btrfs"],
        encryption: false,
      },
      users: { groups: ["users"], sudoGroup: "sudo", shell: "/bin/bash" },
      requirements: { storageGiB: 12, ramGiB: 2 },
      scripts: scriptsDir(),
    };
    await writeFile(join(dir, "install.json"), JSON.stringify(plan));
    await writeFile(join(dir, "config.json"), JSON.stringify({ plan: join(dir, "install.json") }));
    await writeFile(
      join(dir, "gs.json"),
      JSON.stringify({ rootMountPoint: root, firmwareType: "bios", partitions, ...gsExtra }),
    );
    if (premounts) await writeFile(join(dir, "premounts"), premounts);
    const harness = join(work, "harness");
    await writeFile(harness, HARNESS, { mode: 0o755 });
    await run(inPrivateMountNamespace(["bash", harness, dir, MODULES, DRIVER, "0", "1"]));
    const read = (f: string) => readFile(join(dir, f), "utf8");
    return {
      root,
      deployment,
      deploy: JSON.parse(await read("deploy.json")) as { result: [string, string] | null },
      argv: existsSync(join(dir, "argv.txt")) ? (await read("argv.txt")).split("\n") : [],
      mountsAfterDeploy: parseMounts(await read("mounts-deploy.tsv")),
      mountsAfterUmount: parseMounts(await read("mounts-umount.tsv")),
    };
  }

  it("btrfs subvolumes: Calamares' subvolume mounts leave the sysroot, rootflags=subvol=@, @home at /var/home by fstab and for the users module", async () => {
    const c = await layoutCase(
      "btrfs",
      [
        { device: "/dev/vdz1", mountPoint: "", fs: "unformatted", claimed: true },
        { device: "/dev/vdz2", mountPoint: "/boot", fs: "ext4", claimed: true },
        { device: loop, mountPoint: "/", fs: "btrfs", claimed: true },
      ],
      {
        btrfsRootSubvolume: "/@",
        btrfsSubvolumes: [
          { mountPoint: "/", subvolume: "/@" },
          { mountPoint: "/var/home", subvolume: "/@home" },
          { mountPoint: "/.snapshots", subvolume: "/@snapshots" },
        ],
      },
      `${loop} subvol=@home var/home\n${loop} subvol=@snapshots .snapshots\n`,
    );
    expect(c.deploy.result).toBeNull();
    expect(c.argv).toContain("rootflags=subvol=@");
    // Gone before the backend looked at the root: the mounts and the folders made for them.
    expect(existsSync(join(c.root, "var"))).toBe(false);
    expect(existsSync(join(c.root, ".snapshots"))).toBe(false);
    expect(await readFile(join(c.deployment, "etc/fstab"), "utf8")).toContain(
      `UUID=${fsUuid}\t/var/home\tbtrfs\tsubvol=@home,defaults\t0\t0\n`,
    );
    const home = c.mountsAfterDeploy.get(join(c.deployment, "var/home"));
    expect(home?.[0]).toBe("/@home");
    expect(c.mountsAfterDeploy.has(join(c.root, ".snapshots"))).toBe(false);
    expect(c.mountsAfterUmount.has(join(c.deployment, "var/home"))).toBe(false);
  });

  it("refuses a layout that cannot boot with a dialog, before the backend runs", async () => {
    const c = await layoutCase(
      "var",
      [
        { device: "/dev/vdz2", mountPoint: "/", fs: "ext4", claimed: true },
        { device: "/dev/vdz3", mountPoint: "/var", fs: "ext4", claimed: true },
      ],
      {},
    );
    expect(c.deploy.result?.[0]).toBe("A mount point atomiso cannot use");
    expect(c.deploy.result?.[1]).toContain("/dev/vdz3 is to be mounted at /var");
    expect(c.deploy.result?.[1]).toContain("nothing of the system has been written yet");
    expect(c.argv).toEqual([]);
  });
});

describe("atomisodeploy fixes the partition types Calamares leaves", () => {
  it("sets the BIOS boot type on bios-boot and a Linux type on an ext4 'ESP', only on partitions this install created", async () => {
    const dir = await mkdtemp("/var/tmp/atomiso-parttypes-");
    const img = join(dir, "disk.img");
    let loop = "";
    try {
      await run(["truncate", "-s", "80M", img]);
      loop = (await run(["losetup", "-f", "--show", img])).stdout.trim();
      await run(["sfdisk", "--quiet", loop], {
        input: [
          "label: gpt",
          'size=1MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="bios-boot"',
          'size=16MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="boot"',
          'size=16MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root"',
          // Another system's partitions, kept by "Install alongside": never changed.
          'size=1MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="bios-boot"',
          'type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="other"',
          "",
        ].join("\n"),
      });
      await run(["partx", "-a", loop]).catch(() => undefined);
      await run(["mkfs.ext4", "-q", `${loop}p2`]);
      await run(["mkfs.ext4", "-q", `${loop}p5`]);
      const script = [
        "import importlib.util, json, os, sys",
        "sys.dont_write_bytecode = True",
        `sys.path.insert(0, ${JSON.stringify(join(repo, "test/support/fake-libcalamares"))})`,
        `sys.path.insert(1, ${JSON.stringify(join(repo, "installer-scripts"))})`,
        `spec = importlib.util.spec_from_file_location('m', ${JSON.stringify(join(repo, "calamares/modules/atomisodeploy/main.py"))})`,
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)",
        `m.fix_partition_types(${JSON.stringify(loop)}, {${[1, 2, 3].map((n) => JSON.stringify(`${loop}p${n}`)).join(", ")}})`,
      ].join("\n");
      const work = await mkdtemp(join(dir, "gs-"));
      await writeFile(join(work, "gs.json"), "{}");
      await writeFile(join(work, "conf.json"), "{}");
      await run(["python3", "-c", script], {
        env: {
          FAKE_CALAMARES_GS: join(work, "gs.json"),
          FAKE_CALAMARES_CONFIG: join(work, "conf.json"),
          FAKE_CALAMARES_EVENTS: join(work, "events.jsonl"),
        },
      });
      const table = JSON.parse((await run(["sfdisk", "--json", loop])).stdout) as {
        partitiontable: { partitions: { type: string }[] };
      };
      expect(table.partitiontable.partitions.map((p) => p.type.toLowerCase())).toEqual([
        "21686148-6449-6e6f-744e-656564454649",
        "0fc63daf-8483-4772-8e79-3d69d8477de4",
        "0fc63daf-8483-4772-8e79-3d69d8477de4",
        "0fc63daf-8483-4772-8e79-3d69d8477de4",
        "c12a7328-f81f-11d2-ba4b-00a0c93ec93b",
      ]);
    } finally {
      if (loop) {
        // Partition nodes outlive the loop device; the next user of this loop would trip on them.
        await run(["partx", "--delete", loop], { okExitCodes: [0, 1] });
        await run(["losetup", "-d", loop]).catch(() => undefined);
      }
      await safeRemove(dir);
    }
  });
});

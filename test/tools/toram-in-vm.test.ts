// installer-scripts/initramfs/toram-in-vm, the live initrd's init-premount script, run by
// busybox's sh with only busybox's applets on PATH (as in the initrd), on stand-in /proc files
// under ATOMISO_TORAM_ROOT: it asks live-boot for its copy to memory (TORAM in
// /conf/param.conf, which initramfs-tools and live-boot source) only in a virtual machine with
// the memory GRUB's atomiso.toram names. The boot tier shows the copy in a 3 GiB guest and
// its absence in the 1.5 GiB install.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/tools/exec.js";

const SCRIPT = resolve("installer-scripts/initramfs/toram-in-vm");
const VM_FLAGS = "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep hypervisor lahf_lm";
const METAL_FLAGS = "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep lahf_lm";

describe("toram-in-vm (the live initrd copies the medium to memory in a roomy VM)", async () => {
  const work = await mkdtemp(join(tmpdir(), "atomiso-toram-"));
  const bin = join(work, "bin");
  beforeAll(async () => {
    await mkdir(bin);
    await run(["busybox", "--install", "-s", bin]);
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  let n = 0;
  /** Runs the script on a machine with this command line, memory (MiB) and CPU flags. */
  async function boot(cmdline: string, memTotalMiB: number, flags: string) {
    const root = join(work, `machine-${n++}`);
    await mkdir(join(root, "proc"), { recursive: true });
    await writeFile(join(root, "proc", "cmdline"), `${cmdline}\n`);
    await writeFile(
      join(root, "proc", "meminfo"),
      `MemTotal:       ${memTotalMiB * 1024} kB\nMemFree:        ${memTotalMiB * 900} kB\n`,
    );
    await writeFile(
      join(root, "proc", "cpuinfo"),
      `processor\t: 0\n${flags}\n\nprocessor\t: 1\n${flags}\n`,
    );
    await run([
      "busybox",
      "env",
      `PATH=${bin}`,
      `ATOMISO_TORAM_ROOT=${root}`,
      join(bin, "sh"),
      SCRIPT,
    ]);
    const read = (path: string) => readFile(join(root, path), "utf8").catch(() => undefined);
    return {
      root,
      paramConf: await read("conf/param.conf"),
      report: await read("run/atomiso-toram"),
    };
  }

  const LIVE = "boot=live nonetworking console=ttyS0,115200 console=tty0 quiet";

  it("a virtual machine with enough memory: TORAM for live-boot, exported", async () => {
    const m = await boot(`${LIVE} atomiso.toram=2416`, 2911, VM_FLAGS);
    expect(m.report?.trim()).toBe(
      "yes (2911 MiB of memory, the copy needs 2416 MiB; virtual machine)",
    );
    // What live-boot sees after sourcing the file, in a child shell as well.
    const { stdout } = await run([
      join(bin, "sh"),
      "-c",
      `. "$1"; sh -c 'echo "TORAM=$TORAM"'`,
      "sh",
      join(m.root, "conf", "param.conf"),
    ]);
    expect(stdout.trim()).toBe("TORAM=true");
  });

  it("too little memory: no copy, and the report says why", async () => {
    const m = await boot(`${LIVE} atomiso.toram=2416`, 1430, VM_FLAGS);
    expect(m.paramConf).toBeUndefined();
    expect(m.report?.trim()).toBe("no (1430 MiB of memory, the copy needs 2416 MiB)");
  });

  it("real hardware: no copy (a DVD or slow stick would make the copy the slow part)", async () => {
    const m = await boot(`${LIVE} atomiso.toram=2416`, 16000, METAL_FLAGS);
    expect(m.paramConf).toBeUndefined();
    expect(m.report?.trim()).toBe("no (not a virtual machine)");
  });

  it("leaves the decision alone without a size, or when the user asked for toram", async () => {
    // GRUB without medium.cfg expands the variable to nothing.
    for (const cmdline of [LIVE, `${LIVE} atomiso.toram=`, `${LIVE} atomiso.toram=2416 toram`]) {
      const m = await boot(cmdline, 16000, VM_FLAGS);
      expect(m.paramConf).toBeUndefined();
      expect(m.report).toBeUndefined();
    }
  });

  it("answers initramfs-tools' prereqs query", async () => {
    const { stdout } = await run(["busybox", "sh", SCRIPT, "prereqs"]);
    expect(stdout.trim()).toBe("");
  });
});

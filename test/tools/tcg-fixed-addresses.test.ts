// installer-scripts/initramfs/tcg-fixed-addresses, the live initrd's init-top script, run by
// busybox's sh with only busybox's applets and systemd-detect-virt on PATH (as in the initrd,
// where the hook tcg-detect puts it), on stand-in /proc files under ATOMISO_ASLR_ROOT: programs
// keep fixed addresses (kernel.randomize_va_space 0) only in QEMU without KVM, unless the
// command line says atomiso.aslr=on. The real systemd-detect-virt answers for this host; a
// stand-in answers "qemu" and "kvm" (the boot tier's TCG guests show the real "qemu" case:
// test/boot/live-iso.test.ts reads the report on their serial console).
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/tools/exec.js";

const SCRIPT = resolve("installer-scripts/initramfs/tcg-fixed-addresses");
const LIVE = "boot=live nonetworking console=ttyS0,115200 console=tty0 quiet";

describe("tcg-fixed-addresses (fixed program addresses in QEMU without KVM)", async () => {
  const work = await mkdtemp(join(tmpdir(), "atomiso-aslr-"));
  const busybox = join(work, "busybox");
  beforeAll(async () => {
    await mkdir(busybox);
    await run(["busybox", "--install", "-s", busybox]);
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  let n = 0;
  /** Runs the script with this command line; `virt` is a stand-in's answer, or the real tool's. */
  async function boot(cmdline: string, virt?: string) {
    const root = join(work, `machine-${n++}`);
    const bin = join(root, "bin");
    await mkdir(join(root, "proc", "sys", "kernel"), { recursive: true });
    await mkdir(bin);
    await writeFile(join(root, "proc", "cmdline"), `${cmdline}\n`);
    await writeFile(join(root, "proc", "sys", "kernel", "randomize_va_space"), "2\n");
    const detect = join(bin, "systemd-detect-virt");
    if (virt === undefined) {
      await symlink("/usr/bin/systemd-detect-virt", detect);
    } else {
      await writeFile(detect, `#!/bin/sh\necho ${virt}\n`);
      await chmod(detect, 0o755);
    }
    await run([
      "busybox",
      "env",
      `PATH=${bin}:${busybox}`,
      `ATOMISO_ASLR_ROOT=${root}`,
      join(busybox, "sh"),
      SCRIPT,
    ]);
    const read = (path: string) => readFile(join(root, path), "utf8");
    return {
      setting: (await read("proc/sys/kernel/randomize_va_space")).trim(),
      report: (await read("run/atomiso-aslr")).trim(),
    };
  }

  it("QEMU without KVM: randomisation off, and the report says why and how to keep it", async () => {
    const m = await boot(LIVE, "qemu");
    expect(m.setting).toBe("0");
    expect(m.report).toBe(
      "off (QEMU without KVM: its TCG translates code again at every new address; atomiso.aslr=on keeps it)",
    );
  });

  it("atomiso.aslr=on keeps randomisation in QEMU without KVM", async () => {
    const m = await boot(`${LIVE} atomiso.aslr=on`, "qemu");
    expect(m.setting).toBe("2");
    expect(m.report).toBe("on (atomiso.aslr=on)");
  });

  it("under KVM nothing changes", async () => {
    const m = await boot(LIVE, "kvm");
    expect(m.setting).toBe("2");
    expect(m.report).toBe("on (machine: kvm)");
  });

  it("this host, as the real systemd-detect-virt names it", async () => {
    // It exits 1 when it prints "none" (no virtualisation).
    const { stdout } = await run(["systemd-detect-virt", "--vm"], { okExitCodes: [0, 1] });
    const virt = stdout.trim();
    const m = await boot(LIVE);
    expect(m.setting).toBe(virt === "qemu" ? "0" : "2");
    expect(m.report).toMatch(virt === "qemu" ? /^off / : new RegExp(`^on \\(machine: ${virt}\\)$`));
  });
});

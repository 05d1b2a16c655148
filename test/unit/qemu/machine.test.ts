import { describe, expect, it } from "vitest";
import {
  buildMachine,
  type MachineSpec,
  ovmfFiles,
  qemuOptValue,
} from "../../../src/qemu/machine.js";

const base: MachineSpec = { firmware: "bios", iso: "/isos/live.iso", runDir: "/runs/r1" };

/** The value following each occurrence of a flag. */
function values(argv: string[], flag: string): string[] {
  return argv.flatMap((a, i) => (a === flag ? [argv[i + 1] ?? ""] : []));
}

function bootindexOf(argv: string[], drive: string): number | undefined {
  const dev = values(argv, "-device").find(
    (d) => d.includes(`drive=${drive},`) || d.endsWith(`drive=${drive}`),
  );
  const m = dev ? /bootindex=(\d+)/.exec(dev) : null;
  return m ? Number(m[1]) : undefined;
}

describe("buildMachine", () => {
  it("boots a kernel directly with extra arguments, and serves the serial port on a socket", () => {
    const plan = buildMachine({
      ...base,
      directKernel: { kernel: "/k/vmlinuz", initrd: "/k/initrd.img", append: "boot=live a=b" },
      serialSocket: "/runs/r1/serial.sock",
    });
    const at = plan.argv.indexOf("-kernel");
    expect(plan.argv.slice(at, at + 6)).toEqual([
      "-kernel",
      "/k/vmlinuz",
      "-initrd",
      "/k/initrd.img",
      "-append",
      "boot=live a=b",
    ]);
    expect(plan.argv).toContain(
      "socket,id=serial0,path=/runs/r1/serial.sock,server=on,wait=off,logfile=/runs/r1/serial.log",
    );
    expect(plan.serialSocket).toBe("/runs/r1/serial.sock");
    // Paused until the serial client is connected: QEMU drops output written before that.
    expect(plan.argv).toContain("-S");
    expect(buildMachine(base).argv).not.toContain("-S");
  });

  it("gives the guest an isolated NIC that reaches only the forwarded host ports", () => {
    const plan = buildMachine({
      ...base,
      guestForwards: [{ guestAddress: "10.0.2.100", guestPort: 5000, hostPort: 41234 }],
    });
    expect(values(plan.argv, "-nic")).toEqual([
      "user,model=virtio-net-pci,restrict=on,guestfwd=tcp:10.0.2.100:5000-cmd:bash -c 'exec 3<>/dev/tcp/127.0.0.1/41234; cat <&3 & exec cat >&3'",
    ]);
    for (const bad of ["10.0.2.2", "10.0.2.15", "192.168.1.4", "10.0.2.300"]) {
      expect(() =>
        buildMachine({
          ...base,
          guestForwards: [{ guestAddress: bad, guestPort: 5000, hostPort: 5000 }],
        }),
      ).toThrow(/not a free address in 10\.0\.2\.0\/24/);
    }
    expect(() =>
      buildMachine({
        ...base,
        guestForwards: [{ guestAddress: "10.0.2.100", guestPort: 5000, hostPort: 70000 }],
      }),
    ).toThrow(/not a TCP port/);
  });

  it("forwards ports of the guest to the host's 127.0.0.1 only, beside the guest forwards", () => {
    const sshOnly = buildMachine({ ...base, hostForwards: [{ hostPort: 42022, guestPort: 22 }] });
    expect(values(sshOnly.argv, "-nic")).toEqual([
      "user,model=virtio-net-pci,restrict=on,hostfwd=tcp:127.0.0.1:42022-:22",
    ]);
    const both = buildMachine({
      ...base,
      guestForwards: [{ guestAddress: "10.0.2.100", guestPort: 5000, hostPort: 41234 }],
      hostForwards: [
        { hostPort: 42022, guestPort: 22 },
        { hostPort: 42080, guestPort: 80 },
      ],
    });
    const nic = values(both.argv, "-nic");
    expect(nic).toHaveLength(1);
    expect(nic[0]).toMatch(
      /^user,model=virtio-net-pci,restrict=on,guestfwd=tcp:10\.0\.2\.100:5000-cmd:[^,]*,hostfwd=tcp:127\.0\.0\.1:42022-:22,hostfwd=tcp:127\.0\.0\.1:42080-:80$/,
    );
    for (const bad of [
      { hostPort: 0, guestPort: 22 },
      { hostPort: 42022, guestPort: 65536 },
      { hostPort: 4.5, guestPort: 22 },
    ]) {
      expect(() => buildMachine({ ...base, hostForwards: [bad] })).toThrow(
        /host forward port .* is not a TCP port/,
      );
    }
    expect(() =>
      buildMachine({
        ...base,
        hostForwards: [
          { hostPort: 42022, guestPort: 22 },
          { hostPort: 42022, guestPort: 80 },
        ],
      }),
    ).toThrow(/host forward port 42022 is given twice/);
    // An empty list is no forward: still no NIC.
    expect(values(buildMachine({ ...base, hostForwards: [] }).argv, "-nic")).toEqual(["none"]);
  });

  it("builds a BIOS + cdrom machine with TCG, no NIC, std VGA, serial file and QMP socket", () => {
    const plan = buildMachine(base);
    const { argv } = plan;
    expect(argv[0]).toBe("qemu-system-x86_64");
    expect(values(argv, "-machine")).toEqual(["q35"]);
    expect(values(argv, "-accel")).toEqual(["tcg"]);
    expect(argv).not.toContain("-enable-kvm");
    expect(argv.join(" ")).not.toMatch(/kvm/);
    expect(values(argv, "-m")).toEqual(["3072"]);
    expect(values(argv, "-smp")).toEqual(["2"]);
    expect(values(argv, "-display")).toEqual(["none"]);
    expect(values(argv, "-device")).toContain("VGA");
    expect(values(argv, "-nic")).toEqual(["none"]);
    expect(argv).toContain("-nodefaults");
    expect(plan.serialLog).toBe("/runs/r1/serial.log");
    expect(plan.qmpSocket).toBe("/runs/r1/qmp.sock");
    expect(values(argv, "-chardev")).toEqual([
      "file,id=serial0,path=/runs/r1/serial.log",
      "socket,id=qmp0,path=/runs/r1/qmp.sock,server=on,wait=off",
    ]);
    expect(values(argv, "-serial")).toEqual(["chardev:serial0"]);
    expect(values(argv, "-mon")).toEqual(["chardev=qmp0,mode=control"]);
    // SeaBIOS: no pflash, nothing to copy.
    expect(argv.join(" ")).not.toMatch(/pflash/);
    expect(plan.firmwareFiles).toBeUndefined();
    expect(values(argv, "-drive")).toEqual([
      "file=/isos/live.iso,format=raw,if=none,id=media0,media=cdrom,readonly=on",
    ]);
    expect(values(argv, "-device")).toContain("ide-cd,drive=media0,bus=ide.0,bootindex=0");
    expect(argv).not.toContain("-no-reboot");
  });

  it("adds a USB tablet (an absolute pointer) only when asked", () => {
    expect(values(buildMachine(base).argv, "-device").join(" ")).not.toMatch(/usb/);
    const devices = values(buildMachine({ ...base, tablet: true }).argv, "-device");
    expect(devices).toContain("qemu-xhci,id=usb");
    expect(devices).toContain("usb-tablet,bus=usb.0");
  });

  it("uses OVMF with a per-run writable VARS copy for uefi", () => {
    const plan = buildMachine({ ...base, firmware: "uefi" });
    expect(plan.firmwareFiles).toEqual({
      code: "/usr/share/OVMF/OVMF_CODE_4M.fd",
      varsTemplate: "/usr/share/OVMF/OVMF_VARS_4M.fd",
      vars: "/runs/r1/OVMF_VARS.fd",
    });
    const drives = values(plan.argv, "-drive");
    expect(drives).toContain(
      "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
    );
    expect(drives).toContain("if=pflash,format=raw,unit=1,file=/runs/r1/OVMF_VARS.fd");
    // The template itself is never handed to QEMU.
    expect(plan.argv.join(" ")).not.toContain("OVMF_VARS_4M.fd");
    expect(values(plan.argv, "-machine")).toEqual(["q35"]);
    expect(plan.argv.join(" ")).not.toMatch(/secure/);
  });

  it("honours ovmfDir and an explicit vars path", () => {
    const plan = buildMachine({
      ...base,
      firmware: "uefi",
      ovmfDir: "/opt/fw",
      ovmfVars: "/elsewhere/vars.fd",
    });
    expect(plan.firmwareFiles?.code).toBe("/opt/fw/OVMF_CODE_4M.fd");
    expect(values(plan.argv, "-drive")).toContain(
      "if=pflash,format=raw,unit=1,file=/elsewhere/vars.fd",
    );
  });

  it("turns on SMM and secure pflash for uefi-secureboot with the MS-keys VARS template", () => {
    const plan = buildMachine({ ...base, firmware: "uefi-secureboot" });
    expect(values(plan.argv, "-machine")).toEqual(["q35,smm=on"]);
    expect(values(plan.argv, "-global")).toContain("driver=cfi.pflash01,property=secure,value=on");
    expect(plan.firmwareFiles).toEqual({
      code: "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd",
      varsTemplate: "/usr/share/OVMF/OVMF_VARS_4M.ms.fd",
      vars: "/runs/r1/OVMF_VARS.fd",
    });
    expect(values(plan.argv, "-drive")).toContain(
      "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd",
    );
  });

  it.each(["bios", "uefi", "uefi-secureboot"] as const)(
    "attaches the ISO as a bootable USB disk on %s",
    (firmware) => {
      const { argv } = buildMachine({ ...base, firmware, media: "usb" });
      expect(values(argv, "-drive")).toContain(
        "file=/isos/live.iso,format=raw,if=none,id=media0,readonly=on",
      );
      expect(argv.join(" ")).not.toContain("media=cdrom");
      expect(argv.join(" ")).not.toContain("ide-cd");
      const devices = values(argv, "-device");
      expect(devices).toContain("qemu-xhci,id=xhci0");
      expect(devices).toContain("usb-storage,bus=xhci0.0,drive=media0,removable=on,bootindex=0");
    },
  );

  it("puts extra disks after the ISO in the boot order", () => {
    const { argv } = buildMachine({
      ...base,
      disks: [
        { path: "/runs/r1/target.qcow2" },
        { path: "/runs/r1/second.img", interface: "sata" },
        { path: "/runs/r1/third.raw", interface: "nvme", format: "raw" },
      ],
    });
    const drives = values(argv, "-drive");
    expect(drives).toContain("file=/runs/r1/target.qcow2,format=qcow2,if=none,id=disk0");
    expect(drives).toContain("file=/runs/r1/second.img,format=raw,if=none,id=disk1");
    expect(drives).toContain("file=/runs/r1/third.raw,format=raw,if=none,id=disk2");
    const devices = values(argv, "-device");
    expect(devices).toContain("virtio-blk-pci,drive=disk0,bootindex=1");
    expect(devices).toContain("ide-hd,drive=disk1,bus=ide.2,bootindex=2");
    expect(devices).toContain("nvme,drive=disk2,serial=atomiso2,bootindex=3");
    expect(bootindexOf(argv, "media0")).toBe(0);
  });

  it("can boot from the first disk instead, keeping the ISO second", () => {
    const { argv } = buildMachine({
      ...base,
      bootFrom: "disk",
      disks: [{ path: "/d/a.qcow2" }, { path: "/d/b.qcow2" }],
    });
    expect(bootindexOf(argv, "disk0")).toBe(0);
    expect(bootindexOf(argv, "media0")).toBe(1);
    expect(bootindexOf(argv, "disk1")).toBe(2);
  });

  it("boots a disk-only machine (no ISO)", () => {
    const { argv } = buildMachine({
      firmware: "uefi",
      runDir: "/r",
      disks: [{ path: "/d/a.qcow2", readonly: true }],
    });
    expect(bootindexOf(argv, "disk0")).toBe(0);
    expect(values(argv, "-drive")).toContain(
      "file=/d/a.qcow2,format=qcow2,if=none,id=disk0,readonly=on",
    );
    expect(argv.join(" ")).not.toContain("media0");
  });

  it("applies memory, smp, cpu, -no-reboot and the qemu binary", () => {
    const { argv } = buildMachine({
      ...base,
      memoryMiB: 4096,
      smp: 1,
      cpu: "qemu64",
      noReboot: true,
      qemuBinary: "/opt/qemu/bin/qemu-system-x86_64",
    });
    expect(argv[0]).toBe("/opt/qemu/bin/qemu-system-x86_64");
    expect(values(argv, "-m")).toEqual(["4096"]);
    expect(values(argv, "-smp")).toEqual(["1"]);
    expect(values(argv, "-cpu")).toEqual(["qemu64"]);
    expect(argv).toContain("-no-reboot");
  });

  it("escapes commas in paths and honours explicit serial/QMP paths", () => {
    const plan = buildMachine({
      ...base,
      firmware: "uefi",
      iso: "/isos/a,b.iso",
      runDir: "/runs/x,y",
      serialLog: "/logs/s,1.log",
      qmpSocket: "/tmp/q.sock",
    });
    expect(values(plan.argv, "-drive")).toContain(
      "file=/isos/a,,b.iso,format=raw,if=none,id=media0,media=cdrom,readonly=on",
    );
    expect(values(plan.argv, "-drive")).toContain(
      "if=pflash,format=raw,unit=1,file=/runs/x,,y/OVMF_VARS.fd",
    );
    expect(values(plan.argv, "-chardev")).toEqual([
      "file,id=serial0,path=/logs/s,,1.log",
      "socket,id=qmp0,path=/tmp/q.sock,server=on,wait=off",
    ]);
    expect(plan.serialLog).toBe("/logs/s,1.log");
    expect(qemuOptValue("a,,b")).toBe("a,,,,b");
  });

  it("rejects impossible specs", () => {
    expect(() => buildMachine({ firmware: "bios", runDir: "/r" })).toThrow(
      /needs at least one disk/,
    );
    expect(() => buildMachine({ ...base, memoryMiB: 100 })).toThrow(/memoryMiB/);
    expect(() =>
      buildMachine({ firmware: "bios", runDir: "/r", bootFrom: "media", disks: [{ path: "/d" }] }),
    ).toThrow(/needs an iso/);
  });

  it("has no OVMF files for bios", () => {
    expect(ovmfFiles("bios")).toBeUndefined();
  });
});

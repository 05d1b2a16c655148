// Pure QEMU argv builder for boot tests: q35 under TCG (never KVM), no NIC unless forwards ask
// for an isolated one, std VGA with no display window (so QMP screendump works), serial to a
// file, QMP on a unix socket. Firmware is SeaBIOS, OVMF, or OVMF with Secure Boot (Microsoft
// keys); the writable OVMF VARS are always a per-run copy, which the caller makes from
// `plan.firmwareFiles` before starting QEMU.
import { join } from "node:path";

export type Firmware = "bios" | "uefi" | "uefi-secureboot";
/** How the ISO is attached: as an optical drive, or as a plain USB disk (the hybrid-MBR/GPT path). */
export type Media = "cdrom" | "usb";
export type DiskInterface = "virtio" | "nvme" | "sata";

export const FIRMWARES: readonly Firmware[] = ["bios", "uefi", "uefi-secureboot"];
export const MEDIAS: readonly Media[] = ["cdrom", "usb"];

export const DEFAULT_MEMORY_MIB = 3072;
export const DEFAULT_OVMF_DIR = "/usr/share/OVMF";

export interface DiskSpec {
  path: string;
  /** Default: "qcow2" when the path ends in .qcow2, else "raw". */
  format?: "qcow2" | "raw";
  /** Default "virtio" (the guest sees /dev/vda). */
  interface?: DiskInterface;
  readonly?: boolean;
}

export interface MachineSpec {
  firmware: Firmware;
  /** The installer ISO; omit to boot only from `disks` (e.g. after an install). */
  iso?: string;
  /** Default "cdrom". */
  media?: Media;
  /** Extra disks, e.g. an install target; they come after the ISO in the boot order. */
  disks?: DiskSpec[];
  /** Boot from the ISO (default when there is one) or from the first disk. */
  bootFrom?: "media" | "disk";
  /** Default 3072. */
  memoryMiB?: number;
  /** Default 2. */
  smp?: 1 | 2;
  /** Default TCG_CPU under TCG (every feature TCG emulates but ERMS), "max" under KVM. */
  cpu?: string;
  /** Default "tcg". "kvm" only where the host has a working /dev/kvm (e.g. CI runners). */
  accel?: "tcg" | "kvm";
  /** Exit instead of rebooting when the guest reboots. */
  noReboot?: boolean;
  /** Per-run directory; default home of the serial log, QMP socket and OVMF VARS copy. */
  runDir: string;
  serialLog?: string;
  qmpSocket?: string;
  /** Where the writable OVMF VARS copy lives (default <runDir>/OVMF_VARS.fd). */
  ovmfVars?: string;
  ovmfDir?: string;
  qemuBinary?: string;
  /**
   * Boot this kernel and initrd directly (QEMU's loader, on SeaBIOS and OVMF alike) with the
   * given command line, instead of the medium's boot loader: how a test adds kernel arguments
   * such as atomiso.answer= to an ISO whose own boot is proven by the boot tests.
   */
  directKernel?: { kernel: string; initrd: string; append: string };
  /**
   * A unix socket that takes input for the serial port (a login on the serial console, for
   * example); the output still goes to serialLog. The guest then starts paused (-S): QEMU
   * drops, and does not log, what the guest writes while no client is connected, so the caller
   * connects first and then resumes it (QMP "cont"; launchGuest does).
   */
  serialSocket?: string;
  /**
   * Gives the guest a NIC on QEMU's user network, isolated (restrict=on: it reaches neither
   * the host nor anything beyond) except for these TCP forwards from an address of the
   * guest's network (10.0.2.0/24) to a port on the host's 127.0.0.1, e.g. a local registry
   * for an online install. Without forwards (these or hostForwards) the guest has no NIC
   * at all.
   */
  guestForwards?: GuestForward[];
  /**
   * Guest ports the host reaches: QEMU listens on the host's 127.0.0.1 and connects each
   * connection to the guest's port (e.g. the live system's sshd). Also gives the guest the
   * isolated NIC; restrict=on does not apply to these explicit rules.
   */
  hostForwards?: HostForward[];
  /**
   * Adds a USB tablet, an absolute pointer: QMP "abs" events then put the X pointer at exact
   * screen coordinates (a click on a widget found by OCR). The PS/2 mouse stays.
   */
  tablet?: boolean;
}

export interface GuestForward {
  /** An unused address in 10.0.2.0/24 (not .2 host, .3 DNS, .15 the guest), e.g. 10.0.2.100. */
  guestAddress: string;
  guestPort: number;
  /** The port on the host's 127.0.0.1. */
  hostPort: number;
}

export interface HostForward {
  /** The port QEMU listens on at the host's 127.0.0.1 (pick a free one at run time). */
  hostPort: number;
  /** The TCP port in the guest, on the address the user network's DHCP gives it (10.0.2.15). */
  guestPort: number;
}

function checkPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`${what} port ${port} is not a TCP port`);
  }
}

function nicArg(
  forwards: GuestForward[] | undefined = [],
  hostForwards: HostForward[] | undefined = [],
): string {
  if (forwards.length === 0 && hostForwards.length === 0) return "none";
  const rules = forwards.map((f) => {
    const m = /^10\.0\.2\.(\d{1,3})$/.exec(f.guestAddress);
    const host = Number(m?.[1]);
    if (!m || host < 4 || host > 254 || host === 15) {
      throw new Error(
        `guest forward address ${f.guestAddress} is not a free address in 10.0.2.0/24`,
      );
    }
    for (const port of [f.guestPort, f.hostPort]) checkPort(port, "guest forward");
    // "cmd:" runs the relay once per guest connection; a "tcp:" chardev target would be one
    // connection, opened when QEMU starts, shared by everything the guest opens.
    const relay = `bash -c 'exec 3<>/dev/tcp/127.0.0.1/${f.hostPort}; cat <&3 & exec cat >&3'`;
    return `guestfwd=tcp:${f.guestAddress}:${f.guestPort}-cmd:${relay}`;
  });
  const listening = new Set<number>();
  for (const f of hostForwards) {
    for (const port of [f.hostPort, f.guestPort]) checkPort(port, "host forward");
    if (listening.has(f.hostPort)) {
      throw new Error(`host forward port ${f.hostPort} is given twice`);
    }
    listening.add(f.hostPort);
    // Only on the loopback address: nothing beyond this host reaches the guest.
    rules.push(`hostfwd=tcp:127.0.0.1:${f.hostPort}-:${f.guestPort}`);
  }
  return ["user", "model=virtio-net-pci", "restrict=on", ...rules].join(",");
}

export interface FirmwareFiles {
  /** Read-only firmware code image. */
  code: string;
  /** Pristine VARS template, never written to. */
  varsTemplate: string;
  /** The per-run writable copy of the template that QEMU is given. */
  vars: string;
}

export interface MachinePlan {
  argv: string[];
  serialLog: string;
  /** Present when the serial port takes input (spec.serialSocket). */
  serialSocket?: string;
  qmpSocket: string;
  /** Present for UEFI firmware: copy varsTemplate to vars before starting QEMU. */
  firmwareFiles?: FirmwareFiles;
}

/** OVMF code and VARS template for a firmware choice (undefined for SeaBIOS). */
export function ovmfFiles(
  firmware: Firmware,
  ovmfDir = DEFAULT_OVMF_DIR,
): { code: string; varsTemplate: string } | undefined {
  switch (firmware) {
    case "bios":
      return undefined;
    case "uefi":
      return {
        code: join(ovmfDir, "OVMF_CODE_4M.fd"),
        varsTemplate: join(ovmfDir, "OVMF_VARS_4M.fd"),
      };
    case "uefi-secureboot":
      return {
        code: join(ovmfDir, "OVMF_CODE_4M.secboot.fd"),
        varsTemplate: join(ovmfDir, "OVMF_VARS_4M.ms.fd"),
      };
  }
}

/** Escapes a value for QEMU's comma-separated option syntax (a literal comma is doubled). */
export function qemuOptValue(value: string): string {
  return value.replaceAll(",", ",,");
}

function diskFormat(disk: DiskSpec): "qcow2" | "raw" {
  return disk.format ?? (disk.path.toLowerCase().endsWith(".qcow2") ? "qcow2" : "raw");
}

/**
 * The guest's processor under TCG: "max" (every feature TCG emulates, AVX2 included, so
 * x86-64-v3 distributions boot) without ERMS. With ERMS the guest's kernel clears and copies
 * pages with `rep stosb`/`rep movsb` and glibc uses `rep movsb` for large copies, which TCG
 * executes one byte per iteration; without it they move 8 bytes an iteration or use vector
 * loops. Measured on the example ISO (docs/live-system.md, Boot): the guest's kernel used 14 %
 * less CPU and the welcome page came 0.87× as late, by the medians. No distribution requires ERMS.
 */
export const TCG_CPU = "max,erms=off";

export function buildMachine(spec: MachineSpec): MachinePlan {
  const media = spec.media ?? "cdrom";
  const disks = spec.disks ?? [];
  const memory = spec.memoryMiB ?? DEFAULT_MEMORY_MIB;
  const smp = spec.smp ?? 2;
  if (!Number.isInteger(memory) || memory < 256) {
    throw new RangeError(`memoryMiB must be an integer >= 256, got ${memory}`);
  }
  const bootFrom = spec.bootFrom ?? (spec.iso !== undefined ? "media" : "disk");
  if (bootFrom === "media" && spec.iso === undefined) {
    throw new RangeError('bootFrom "media" needs an iso');
  }
  if (bootFrom === "disk" && disks.length === 0) {
    throw new RangeError('bootFrom "disk" needs at least one disk');
  }
  const serialLog = spec.serialLog ?? join(spec.runDir, "serial.log");
  const qmpSocket = spec.qmpSocket ?? join(spec.runDir, "qmp.sock");
  const secure = spec.firmware === "uefi-secureboot";

  const argv: string[] = [
    spec.qemuBinary ?? "qemu-system-x86_64",
    "-name",
    "atomiso-boot",
    "-nodefaults",
    "-machine",
    secure ? "q35,smm=on" : "q35",
    // TCG only: KVM is not assumed to be present (and hangs on some hosts).
    "-accel",
    spec.accel ?? "tcg",
    "-cpu",
    spec.cpu ?? ((spec.accel ?? "tcg") === "tcg" ? TCG_CPU : "max"),
    "-m",
    String(memory),
    "-smp",
    String(smp),
    "-display",
    "none",
    "-device",
    "VGA",
    "-nic",
    nicArg(spec.guestForwards, spec.hostForwards),
    "-monitor",
    "none",
    "-chardev",
    spec.serialSocket
      ? `socket,id=serial0,path=${qemuOptValue(spec.serialSocket)},server=on,wait=off,logfile=${qemuOptValue(serialLog)}`
      : `file,id=serial0,path=${qemuOptValue(serialLog)}`,
    "-serial",
    "chardev:serial0",
    "-chardev",
    `socket,id=qmp0,path=${qemuOptValue(qmpSocket)},server=on,wait=off`,
    "-mon",
    "chardev=qmp0,mode=control",
    "-rtc",
    "base=utc",
  ];
  if (spec.tablet) argv.push("-device", "qemu-xhci,id=usb", "-device", "usb-tablet,bus=usb.0");
  if (spec.serialSocket) argv.push("-S");
  if (spec.noReboot) argv.push("-no-reboot");
  if (spec.directKernel) {
    const k = spec.directKernel;
    argv.push("-kernel", k.kernel, "-initrd", k.initrd, "-append", k.append);
  }

  let firmwareFiles: FirmwareFiles | undefined;
  const ovmf = ovmfFiles(spec.firmware, spec.ovmfDir);
  if (ovmf) {
    firmwareFiles = { ...ovmf, vars: spec.ovmfVars ?? join(spec.runDir, "OVMF_VARS.fd") };
    if (secure) {
      argv.push(
        "-global",
        "driver=cfi.pflash01,property=secure,value=on",
        "-global",
        "ICH9-LPC.disable_s3=1",
      );
    }
    argv.push(
      "-drive",
      `if=pflash,format=raw,unit=0,readonly=on,file=${qemuOptValue(firmwareFiles.code)}`,
      "-drive",
      `if=pflash,format=raw,unit=1,file=${qemuOptValue(firmwareFiles.vars)}`,
    );
  }

  // Boot order through bootindex: the boot device gets 0, everything else follows.
  const order: string[] = [];
  if (spec.iso !== undefined) order.push("media");
  disks.forEach((_, i) => {
    order.push(`disk${i}`);
  });
  if (bootFrom === "disk") order.sort((a, b) => Number(b === "disk0") - Number(a === "disk0"));
  // QEMU's direct kernel loader takes bootindex 0 itself.
  const bootindex = (id: string) => order.indexOf(id) + (spec.directKernel ? 1 : 0);
  const mediaIndex = bootindex("media");

  if (spec.iso !== undefined) {
    const file = qemuOptValue(spec.iso);
    if (media === "cdrom") {
      argv.push(
        "-drive",
        `file=${file},format=raw,if=none,id=media0,media=cdrom,readonly=on`,
        "-device",
        `ide-cd,drive=media0,bus=ide.0,bootindex=${mediaIndex}`,
      );
    } else {
      // The hybrid ISO as a removable USB stick on an xHCI controller: boots on SeaBIOS and
      // OVMF alike, and exercises the ISO's MBR/GPT instead of El Torito.
      argv.push(
        "-drive",
        `file=${file},format=raw,if=none,id=media0,readonly=on`,
        "-device",
        "qemu-xhci,id=xhci0",
        "-device",
        `usb-storage,bus=xhci0.0,drive=media0,removable=on,bootindex=${mediaIndex}`,
      );
    }
  }

  disks.forEach((disk, i) => {
    const id = `disk${i}`;
    const index = bootindex(id);
    const ro = disk.readonly ? ",readonly=on" : "";
    argv.push(
      "-drive",
      `file=${qemuOptValue(disk.path)},format=${diskFormat(disk)},if=none,id=${id}${ro}`,
    );
    switch (disk.interface ?? "virtio") {
      case "virtio":
        argv.push("-device", `virtio-blk-pci,drive=${id},bootindex=${index}`);
        break;
      case "nvme":
        argv.push("-device", `nvme,drive=${id},serial=atomiso${i},bootindex=${index}`);
        break;
      case "sata":
        // q35's AHCI has ports ide.0 .. ide.5; ide.0 is kept for the optical drive.
        if (i > 4) throw new RangeError("at most 5 sata disks are supported");
        argv.push("-device", `ide-hd,drive=${id},bus=ide.${i + 1},bootindex=${index}`);
        break;
    }
  });

  return {
    argv,
    serialLog,
    qmpSocket,
    ...(spec.serialSocket ? { serialSocket: spec.serialSocket } : {}),
    ...(firmwareFiles ? { firmwareFiles } : {}),
  };
}

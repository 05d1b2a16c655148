import { describe, expect, it } from "vitest";
import {
  bootAnalysis,
  describeBootAnalysis,
  mediumCopy,
  parseTimespan,
} from "../../../src/qemu/boot-analysis.js";

// Serial lines as live-marker writes them (systemd 257's output formats), between other
// console output and with the carriage returns a serial console adds.
const SERIAL = [
  "[  OK  ] Started sddm.service - Simple Desktop Display Manager.",
  "ATOMISO-MARKER live-system-up firmware=bios secureboot=0\r",
  "ATOMISO-BOOT Startup finished in 3.512s (kernel) + 24.118s (initrd) + 1min 2.250s (userspace) = 1min 29.880s \r",
  "ATOMISO-BOOT graphical.target reached after 1min 1.900s in userspace.",
  "ATOMISO-BOOT      21.004s NetworkManager.service",
  "ATOMISO-BOOT  1min 3.5s systemd-udev-settle.service",
  "ATOMISO-BOOT         812ms polkit.service",
  "ATOMISO-BOOT run-live-medium.mount",
  "calamares: 16:00:01 [6]: Loaded module welcome",
  'ATOMISO-BOOT The time when unit became active or started is printed after the "@" character.',
  "ATOMISO-BOOT graphical.target @1min 1.900s",
  "ATOMISO-BOOT └─sddm.service @40.100s +1.200s",
  "ATOMISO-BOOT   └─systemd-user-sessions.service @39.900s +150ms",
  "ATOMISO-BOOT started sddm 40.1\r",
  "ATOMISO-BOOT started Xorg 42.75",
  "ATOMISO-BOOT started calamares 61.0",
  // Lines a guest printed (2026-12-06, SeaBIOS, 2 vCPUs), out of their order on purpose.
  "ATOMISO-BOOT cpu all busy 134.3 idle 80.3\r",
  "ATOMISO-BOOT cpu unit init.scope 15.8",
  "ATOMISO-BOOT cpu unit session-2.scope 21.1",
  "ATOMISO-BOOT cpu unit sys-kernel-config.mount 13.5",
  "ATOMISO-BOOT report end",
].join("\n");

describe("boot analysis from the serial console", () => {
  it("reads systemd's time spans", () => {
    expect(parseTimespan("1min 2.250s")).toBeCloseTo(62.25);
    expect(parseTimespan("812ms")).toBeCloseTo(0.812);
    expect(parseTimespan("2h 1min 3s")).toBe(7263);
    expect(parseTimespan("950us")).toBeCloseTo(0.00095);
    expect(parseTimespan("soon")).toBeUndefined();
    expect(parseTimespan("")).toBeUndefined();
  });

  it("splits the startup into phases, sorts the slowest units and keeps the chain", () => {
    const a = bootAnalysis(SERIAL);
    expect(a?.phases).toEqual({ kernel: 3.512, initrd: 24.118, userspace: 62.25 });
    expect(a?.totalSeconds).toBeCloseTo(89.88);
    expect(a?.slowest.map((u) => u.unit)).toEqual([
      "systemd-udev-settle.service",
      "NetworkManager.service",
      "polkit.service",
    ]);
    expect(a?.started).toEqual([
      { name: "sddm", seconds: 40.1 },
      { name: "Xorg", seconds: 42.75 },
      { name: "calamares", seconds: 61 },
    ]);
    expect(a?.criticalChain).toEqual([
      "graphical.target @1min 1.900s",
      "└─sddm.service @40.100s +1.200s",
      "  └─systemd-user-sessions.service @39.900s +150ms",
    ]);
    expect(describeBootAnalysis(a as NonNullable<typeof a>, 2)).toBe(
      [
        "systemd: kernel 3.5 s + initrd 24.1 s + userspace 62.3 s = 89.9 s",
        "slowest units: systemd-udev-settle.service 63.5 s, NetworkManager.service 21.0 s",
        "started (s after the kernel): sddm 40.1, Xorg 42.8, calamares 61.0",
        "CPU (s, all CPUs): busy 134.3, idle 80.3; session-2.scope 21.1, init.scope 15.8",
      ].join("\n"),
    );
    // Mount units' CPU lines are not blame lines (those end with the unit's name).
    expect(a?.cpu?.units.map((u) => u.unit)).toEqual([
      "session-2.scope",
      "init.scope",
      "sys-kernel-config.mount",
    ]);
  });

  it("firmware and loader phases (UEFI) are phases too", () => {
    const a = bootAnalysis(
      "ATOMISO-BOOT Startup finished in 5.1s (firmware) + 2.0s (loader) + 3s (kernel) + 20s (initrd) + 40s (userspace) = 1min 10.1s",
    );
    expect(Object.keys(a?.phases ?? {})).toEqual([
      "firmware",
      "loader",
      "kernel",
      "initrd",
      "userspace",
    ]);
    expect(a?.totalSeconds).toBeCloseTo(70.1);
    expect(a?.started).toEqual([]);
    expect(a?.cpu).toBeUndefined();
  });

  it("nothing reported: undefined (an older ISO, or a boot that never finished)", () => {
    expect(
      bootAnalysis("ATOMISO-MARKER calamares-running firmware=bios secureboot=0"),
    ).toBeUndefined();
  });

  it("reads the medium copy report, with or without the memory figures", () => {
    expect(
      mediumCopy(
        "x\nATOMISO-BOOT medium copy yes (2911 MiB of memory, the copy needs 2409 MiB; virtual machine); /run/live/medium on tmpfs\r\n",
      ),
    ).toEqual({ copied: true, memoryMiB: 2911, needMiB: 2409, mountedOn: "tmpfs" });
    expect(
      mediumCopy(
        "ATOMISO-BOOT medium copy no (1467 MiB of memory, the copy needs 2409 MiB); /run/live/medium on iso9660",
      ),
    ).toEqual({ copied: false, memoryMiB: 1467, needMiB: 2409, mountedOn: "iso9660" });
    expect(
      mediumCopy(
        "ATOMISO-BOOT medium copy no (not a virtual machine); /run/live/medium on iso9660",
      ),
    ).toEqual({ copied: false, mountedOn: "iso9660" });
    expect(mediumCopy("ATOMISO-MARKER live-system-up firmware=bios secureboot=0")).toBeUndefined();
  });
});

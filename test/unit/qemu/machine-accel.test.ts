import { describe, expect, it } from "vitest";
import { buildMachine } from "../../../src/qemu/machine.js";

describe("buildMachine accelerator", () => {
  it("uses TCG unless KVM is asked for (atomiso test boot --kvm, for CI runners)", () => {
    const spec = { firmware: "bios", iso: "/isos/live.iso", runDir: "/runs/r1" } as const;
    const accel = (argv: string[]) => argv[argv.indexOf("-accel") + 1];
    expect(accel(buildMachine(spec).argv)).toBe("tcg");
    expect(accel(buildMachine({ ...spec, accel: "kvm" }).argv)).toBe("kvm");
  });

  it("gives a TCG guest every emulated feature but ERMS, a KVM guest the host's (max)", () => {
    const spec = { firmware: "bios", iso: "/isos/live.iso", runDir: "/runs/r1" } as const;
    const cpu = (argv: string[]) => argv[argv.indexOf("-cpu") + 1];
    expect(cpu(buildMachine(spec).argv)).toBe("max,erms=off");
    expect(cpu(buildMachine({ ...spec, accel: "kvm" }).argv)).toBe("max");
    expect(cpu(buildMachine({ ...spec, cpu: "qemu64" }).argv)).toBe("qemu64");
  });
});

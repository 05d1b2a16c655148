// Everything a QEMU run needs on disk before it starts: a QMP socket path that fits, the plan,
// the OVMF files checked and a per-run writable VARS copy, and the command line kept beside the
// artifacts. Shared by bootIso (check a boot, then stop) and launchGuest (keep the guest).
import { constants } from "node:fs";
import { access, copyFile, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AtomisoError } from "../errors.js";
import { quoteArgv } from "../tools/shell-quote.js";
import { buildMachine, type MachinePlan, type MachineSpec } from "./machine.js";

export interface PreparedMachine {
  plan: MachinePlan;
  /** A short temp dir holding the QMP socket when the run dir is too deep; remove it after. */
  socketDir: string | undefined;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

export async function prepareMachine(
  spec: Omit<MachineSpec, "qmpSocket" | "serialSocket"> & {
    serialInput?: boolean;
    /** Use spec.ovmfVars as it is (the caller's own VARS file) instead of a template copy. */
    keepOvmfVars?: boolean;
  },
): Promise<PreparedMachine> {
  // A unix socket path must fit in 108 bytes; fall back to a short temp dir for deep run dirs.
  const { serialInput, keepOvmfVars, ...machine } = spec;
  let socketDir: string | undefined;
  let qmpSocket = join(spec.runDir, "qmp.sock");
  if (Buffer.byteLength(qmpSocket) > 100) {
    socketDir = await mkdtemp(join(tmpdir(), "atomiso-qmp-"));
    qmpSocket = join(socketDir, "qmp.sock");
  }
  const serialSocket = serialInput ? join(qmpSocket, "..", "serial.sock") : undefined;
  const plan = buildMachine({ ...machine, qmpSocket, ...(serialSocket ? { serialSocket } : {}) });
  if (plan.firmwareFiles) {
    const { code, varsTemplate, vars } = plan.firmwareFiles;
    const keep = keepOvmfVars === true && spec.ovmfVars !== undefined;
    for (const file of keep ? [code, vars] : [code, varsTemplate]) {
      if (!(await exists(file))) {
        if (keep && file === vars) {
          throw new AtomisoError(
            "boot-failed",
            `the OVMF VARS file ${file} the caller handed on is missing`,
            "make it from the firmware's VARS template (ovmfFiles) before starting the guest",
          );
        }
        throw new AtomisoError(
          "tool-missing",
          `the OVMF firmware file ${file} is missing, so ${spec.firmware} cannot be emulated`,
          "install the ovmf package (run `atomiso doctor` to see every missing host package)",
        );
      }
    }
    // Per-run writable copy: boot entries written by one run never leak into the next (unless
    // the caller hands its own VARS file on from guest to guest).
    if (!keep) await copyFile(varsTemplate, vars);
  }
  await writeFile(join(spec.runDir, "qemu-argv.txt"), `${quoteArgv(plan.argv)}\n`);
  await writeFile(join(spec.runDir, "qemu-argv.json"), `${JSON.stringify(plan.argv, null, 2)}\n`);
  return { plan, socketDir };
}

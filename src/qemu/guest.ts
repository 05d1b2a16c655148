// Starting a guest: QEMU (TCG) started, its QMP socket connected, the serial input socket
// attached before the guest runs, and stop(). The one place QEMU is started and stopped.
import { mkdir, readFile, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { AtomisoError } from "../errors.js";
import { describeExit, type SpawnedProcess, spawnProcess } from "../tools/spawn.js";
import type { MachinePlan, MachineSpec } from "./machine.js";
import { prepareMachine } from "./prepare.js";
import { QmpClient } from "./qmp.js";
import { SerialLog } from "./serial.js";
import { SerialInput } from "./serial-input.js";
import { settleWithin } from "./timeout.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Guest {
  runDir: string;
  plan: MachinePlan;
  qmp: QmpClient;
  serial: SerialLog;
  proc: SpawnedProcess;
  qemuLog: string;
  /** Aborted when QEMU exits (the reason says how). */
  signal: AbortSignal;
  /** Input to the serial console, when the guest was launched with serialInput. */
  serialInput?: SerialInput;
  /** Asks QEMU to quit, then makes sure it is gone; safe to call twice. */
  stop(): Promise<void>;
}

export type GuestSpec = Omit<
  MachineSpec,
  "runDir" | "serialLog" | "qmpSocket" | "ovmfVars" | "serialSocket"
> & {
  /** Created if missing; serial.log, qemu.log, qemu-argv.txt and the screenshots go here. */
  runDir: string;
  /**
   * UEFI only: a VARS file the caller owns (see ovmfVarsTemplate), given to QEMU as it is
   * instead of a fresh template copy: boot entries the guest writes stay in it, for the next
   * guest and for reading on the host (ovmf-vars.ts) after stop(). Its template must match the
   * firmware (Secure Boot or not).
   */
  ovmfVarsFile?: string;
  /** Let the caller type on the serial console (Guest.serialInput). */
  serialInput?: boolean;
  /** Each line QEMU itself prints (it also goes to qemu.log). */
  onQemuLine?: (line: string) => void;
};

/**
 * Starts QEMU (TCG) for `spec` and connects to its QMP socket; the guest keeps running until
 * stop(). Unlike bootIso, which checks a boot and stops QEMU, this hands the machine to the
 * caller, e.g. to walk an installer's pages with the keyboard.
 */
export async function launchGuest(spec: GuestSpec): Promise<Guest> {
  const runDir = resolve(spec.runDir);
  await mkdir(runDir, { recursive: true });
  const { onQemuLine, ovmfVarsFile, ...machine } = spec;
  const { plan, socketDir } = await prepareMachine({
    ...machine,
    ...(ovmfVarsFile ? { ovmfVars: resolve(ovmfVarsFile), keepOvmfVars: true } : {}),
    iso: spec.iso === undefined ? undefined : resolve(spec.iso),
    runDir,
  });
  const qemuLog = join(runDir, "qemu.log");
  const proc = spawnProcess(plan.argv, {
    logFile: qemuLog,
    ...(onQemuLine ? { onLine: onQemuLine } : {}),
  });
  const exitCtl = new AbortController();
  void proc.exited.then((info) => exitCtl.abort(`QEMU exited (${describeExit(info)})`));

  let stopped = false;
  let qmp: QmpClient | undefined;
  let serialInput: SerialInput | undefined;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    serialInput?.close();
    if (qmp) {
      if (proc.exitInfo === undefined) await qmp.quit(3000);
      qmp.close();
    }
    await settleWithin(proc.exited, 5000);
    await proc.stop(5000);
    if (socketDir) await rm(socketDir, { recursive: true, force: true });
  };
  try {
    qmp = await QmpClient.connect(plan.qmpSocket, { timeoutMs: 60_000, signal: exitCtl.signal });
  } catch (err) {
    await stop();
    if (!(proc.exitInfo && err instanceof AtomisoError)) throw err;
    const log = (await readFile(qemuLog, "utf8").catch(() => ""))
      .split("\n")
      .filter((l) => l.trim() !== "")
      .slice(-15)
      .map((l) => `    | ${l}`)
      .join("\n");
    throw new AtomisoError(
      "boot-failed",
      `${err.message}\n  qemu.log (${describeExit(proc.exitInfo)}):\n${log || "    (empty)"}`,
      `fix the QEMU error above; the command line is in ${join(runDir, "qemu-argv.txt")}`,
    );
  }
  if (plan.serialSocket) {
    // QEMU started paused (see MachineSpec.serialSocket): resume once it has our connection.
    try {
      serialInput = await SerialInput.connect(plan.serialSocket);
      await serialClientAttached(qmp, plan.serialSocket);
      await qmp.execute("cont");
    } catch (err) {
      await stop();
      throw err;
    }
  }
  return {
    runDir,
    plan,
    qmp,
    ...(serialInput ? { serialInput } : {}),
    serial: new SerialLog(plan.serialLog),
    proc,
    qemuLog,
    signal: exitCtl.signal,
    stop,
  };
}

/**
 * Waits until QEMU has accepted the serial socket's client: connect() returns as soon as the
 * kernel queues the connection, QEMU accepts it in its main loop later, and until then it
 * drops the guest's output (query-chardev names a waiting socket "disconnected:…").
 */
async function serialClientAttached(qmp: QmpClient, socketPath: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const devices = await qmp.execute<{ label: string; filename: string }[]>("query-chardev");
    const serial = devices.find((d) => d.label === "serial0");
    if (serial && !serial.filename.startsWith("disconnected:")) return;
    if (Date.now() > deadline) {
      throw new AtomisoError(
        "boot-failed",
        `QEMU did not accept the connection to its serial socket ${socketPath} within 30 s (query-chardev: ${serial?.filename ?? "no serial0"})`,
        "QEMU may be hung; see qemu.log in the run directory",
      );
    }
    await sleep(50);
  }
}

// How `atomiso test install` ends the live guest (endLiveGuest), on real QEMU (TCG) guests: tiny
// grub-mkrescue ISOs whose GRUB prints the live system's done marker, then powers off
// (after=poweroff) or idles (after=none). Proves that none is acted on at once instead of
// after the 5-minute power-off timeout, that a power-off is waited for, and that neither
// leaves a timer behind (which kept the process alive for minutes after a successful run).
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchGuest } from "../../src/qemu/guest.js";
import { endLiveGuest } from "../../src/qemu/install.js";
import { run } from "../../src/tools/exec.js";

const repoDir = fileURLToPath(new URL("../..", import.meta.url));
const artifacts = join(repoDir, "test-artifacts", "qemu-install-end");

const grubCfg = (after: string, then: string) => `serial --unit=0 --speed=115200
terminal_output console serial
echo "ATOMISO-MARKER unattended-done after=${after}"
${then}
`;

let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "atomiso-install-end-"));
  await mkdir(artifacts, { recursive: true });
});

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

async function tinyIso(name: string, cfg: string): Promise<string> {
  const root = join(workDir, name);
  await mkdir(join(root, "boot", "grub"), { recursive: true });
  await writeFile(join(root, "boot", "grub", "grub.cfg"), cfg);
  const iso = join(workDir, `${name}.iso`);
  await run(["grub-mkrescue", "-o", iso, root], { timeoutMs: 120_000 });
  return iso;
}

/** PIDs of QEMU processes whose command line mentions `needle`. */
async function qemuMentioning(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8");
      if (cmdline.includes(needle) && cmdline.includes("qemu-system")) pids.push(Number(entry));
    } catch {
      // process ended while we looked
    }
  }
  return pids;
}

const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

describe("endLiveGuest on tiny real guests", () => {
  it("stops the guest at once when the live system says after=none", async () => {
    const iso = await tinyIso("none", grubCfg("none", "sleep 600"));
    const runDir = join(artifacts, "none");
    await rm(runDir, { recursive: true, force: true });
    const timersBefore = timers();
    const guest = await launchGuest({ firmware: "bios", iso, runDir });
    const started = Date.now();
    try {
      const ended = await endLiveGuest(guest, { markerTimeoutMs: 90_000 });
      expect(ended).toEqual({ after: "none", step: "stop-guest" });
      // Paused: the CPUs no longer run while QEMU waits for stop().
      const status = await guest.qmp.execute<{ status: string }>("query-status");
      expect(status.status).toBe("paused");
    } finally {
      await guest.stop();
    }
    const seconds = (Date.now() - started) / 1000;
    console.log(`[install-end] after=none: guest stopped ${seconds.toFixed(1)} s after launch`);
    expect(seconds).toBeLessThan(90);
    expect(await qemuMentioning(runDir)).toEqual([]);
    expect(timers()).toBeLessThanOrEqual(timersBefore);
  });

  it("waits for the power-off when the live system says after=poweroff", async () => {
    const iso = await tinyIso("poweroff", grubCfg("poweroff", "sleep 2\nhalt"));
    const runDir = join(artifacts, "poweroff");
    await rm(runDir, { recursive: true, force: true });
    const timersBefore = timers();
    const guest = await launchGuest({ firmware: "bios", iso, runDir });
    try {
      const ended = await endLiveGuest(guest, {
        markerTimeoutMs: 90_000,
        poweroffTimeoutMs: 60_000,
      });
      expect(ended).toEqual({ after: "poweroff", step: "wait-for-poweroff" });
      // QEMU ended by itself (the guest's ACPI power-off), before the harness stopped it.
      expect(guest.proc.exitInfo).toBeDefined();
    } finally {
      await guest.stop();
    }
    expect(await qemuMentioning(runDir)).toEqual([]);
    expect(timers()).toBeLessThanOrEqual(timersBefore);
  });

  it("fails with the timeout when a guest that said after=poweroff stays up", async () => {
    const iso = await tinyIso("stuck", grubCfg("poweroff", "sleep 600"));
    const runDir = join(artifacts, "stuck");
    await rm(runDir, { recursive: true, force: true });
    const guest = await launchGuest({ firmware: "bios", iso, runDir });
    try {
      await expect(
        endLiveGuest(guest, { markerTimeoutMs: 90_000, poweroffTimeoutMs: 3000 }),
      ).rejects.toThrow(
        /said "unattended-done after=poweroff" but the guest did not power off within 3 s/,
      );
    } finally {
      await guest.stop();
    }
    expect(await qemuMentioning(runDir)).toEqual([]);
  });
});

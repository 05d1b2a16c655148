// installer-scripts/live/live-marker, the live system's reporter on the serial console, run by
// the host's sh with the real tail, mawk and pidof, its serial port a plain file and the
// session's log a file this test writes as the live session would: Calamares' lines, then the
// screen-reader script's (run for real, with a stand-in orca). What it must show: the markers
// come from the log's lines as they are written, and while it waits no process is started
// (in a TCG guest each fork and exec costs 60-110 ms of CPU; the polling loops it had took
// 7-8 CPU-seconds of a boot). The guest's systemd is not here (the host has no systemd as
// PID 1), so a stand-in systemd-analyze answers for the boot report; the real report is read
// by the boot tier (test/boot/live-iso.test.ts) and the bench.
import {
  appendFile,
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { run } from "../../src/tools/exec.js";
import { type SpawnedProcess, spawnProcess } from "../../src/tools/spawn.js";

const MARKER = resolve("installer-scripts/live/live-marker");
const SCREEN_READER = resolve("installer-scripts/live/screen-reader");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The processes of one process group, by pid and command name (from /proc). */
async function groupProcesses(pgid: number): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    // pid (comm) state ppid pgrp …: the name may hold blanks, so split after its ")".
    const close = stat.lastIndexOf(")");
    const fields = stat.slice(close + 2).split(" ");
    if (Number(fields[2]) === pgid)
      found.push(`${entry} ${stat.slice(stat.indexOf("(") + 1, close)}`);
  }
  return found.sort();
}

describe("live-marker (the live system's serial reporter, driven by the session's log)", async () => {
  const work = await mkdtemp(join(tmpdir(), "atomiso-live-marker-"));
  const serial = join(work, "ttyS0");
  const log = join(work, "session.log");
  const bin = join(work, "bin");
  let marker: SpawnedProcess | undefined;
  afterAll(async () => {
    await marker?.stop(2000);
    await run([SCREEN_READER, "stop"], { env: { PATH: `${bin}:${process.env.PATH}` } }).catch(
      () => undefined,
    );
    await rm(work, { recursive: true, force: true });
  });

  const serialText = () => readFile(serial, "utf8").catch(() => "");
  async function waitForSerial(pattern: RegExp, timeoutMs: number): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const text = await serialText();
      const line = text.split("\n").find((l) => pattern.test(l));
      if (line !== undefined) return line;
      if (Date.now() > end)
        throw new Error(`no serial line ${pattern} in ${timeoutMs} ms:\n${text}`);
      await sleep(200);
    }
  }

  it("reports from the session's log, and starts no process while it waits", async () => {
    await mkdir(bin);
    // Stand-ins: the guest's systemd-analyze (the host has no systemd as PID 1) and Orca.
    await writeFile(
      join(bin, "systemd-analyze"),
      '#!/bin/sh\n[ "$1" = time ] && echo "Startup finished in 1.000s (kernel) + 2.000s (userspace) = 3.000s"\nexit 0\n',
    );
    await writeFile(
      join(bin, "orca"),
      "#!/bin/sh\ntrap 'kill $!; exit 0' TERM\nsleep 600 &\nwait\n",
    );
    await chmod(join(bin, "systemd-analyze"), 0o755);
    await chmod(join(bin, "orca"), 0o755);
    await writeFile(serial, "");
    const env = {
      PATH: `${bin}:${process.env.PATH}`,
      ATOMISO_SERIAL: serial,
      ATOMISO_SESSION_LOG: log,
      ATOMISO_MARKER_STATE: join(work, "state"),
    };
    marker = spawnProcess(["sh", MARKER], { env });
    const pgid = marker.pid as number;
    await waitForSerial(/^ATOMISO-MARKER live-system-up firmware=(bios|efi) /, 10_000);

    // Before the session: the processes it has are all it keeps (no sleep, pidof or grep
    // started every few seconds).
    await sleep(2000);
    const waiting = await groupProcesses(pgid);
    await sleep(6000);
    expect(await groupProcesses(pgid)).toEqual(waiting);
    expect(await serialText()).not.toMatch(/calamares-running/);

    // The session's own line, then Calamares' first: copied, and "calamares-running" 5 s on.
    await appendFile(log, "atomiso: a QEMU guest without KVM\n");
    await waitForSerial(/^calamares: atomiso: a QEMU guest without KVM$/, 5000);
    expect(await serialText()).not.toMatch(/calamares-running/);
    await appendFile(log, "08:37:15 [6]: Calamares::Settings::Settings(const QString&, bool)\n");
    await waitForSerial(/^calamares: 08:37:15 \[6\]: Calamares::Settings/, 5000);
    await waitForSerial(/^ATOMISO-MARKER calamares-running firmware=/, 10_000);

    // Requirements checked: the boot report, once, ending in "report end".
    await appendFile(log, "    All requirements have been checked. \n");
    await waitForSerial(/^ATOMISO-BOOT report end$/, 30_000);
    expect(await serialText()).toMatch(/^ATOMISO-BOOT Startup finished in 1\.000s/m);
    expect(await serialText()).toMatch(/^ATOMISO-BOOT cpu all busy \d+\.\d idle \d+\.\d$/m);
    await appendFile(log, "    All requirements have been checked. \n");

    // The screen reader, started and stopped by its script as openbox's key does.
    await run([SCREEN_READER, "start"], { env });
    await waitForSerial(/^ATOMISO-MARKER screen-reader-running firmware=/, 15_000);
    await run([SCREEN_READER, "stop"], { env });
    await waitForSerial(/^ATOMISO-MARKER screen-reader-stopped firmware=/, 10_000);

    // Settled again: no process comes or goes while nothing is written.
    await sleep(1000);
    const settled = await groupProcesses(pgid);
    await sleep(5000);
    expect(await groupProcesses(pgid)).toEqual(settled);
    const text = await serialText();
    expect(text.match(/^ATOMISO-BOOT report end$/gm)).toHaveLength(1);
    expect(text.match(/^ATOMISO-MARKER calamares-running /gm)).toHaveLength(1);
  }, 120_000);
});

import { appendFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AtomisoError } from "../../../src/errors.js";
import { cleanSerialText, SerialLog } from "../../../src/qemu/serial.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "atomiso-serial-test-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("cleanSerialText", () => {
  it("strips escape sequences and carriage returns", () => {
    const raw =
      "\x1b[0m\x1b[37m\x1b[40m\x1b[H\x1b[J\x1b[1;1HATOMISO-MARKER tiny-booted firmware=pc\r\n\r\x1b[=3hok\r\n";
    expect(cleanSerialText(raw)).toBe("ATOMISO-MARKER tiny-booted firmware=pc\nok\n");
  });
});

describe("SerialLog.waitFor", () => {
  it("finds a line that appears while polling, even split across writes", async () => {
    const path = join(dir, "serial.log");
    const log = new SerialLog(path);
    setTimeout(() => void writeFile(path, "booting...\r\n\x1b[1;1HATOMISO-MAR"), 50);
    setTimeout(() => void appendFile(path, "KER calamares-running firmware=efi\r\nmore\r\n"), 150);
    const found = await log.waitFor(/ATOMISO-MARKER\s+calamares-running/, {
      timeoutMs: 5000,
      pollMs: 20,
    });
    expect(found.line).toBe("ATOMISO-MARKER calamares-running firmware=efi");
    expect(found.match[0]).toBe("ATOMISO-MARKER calamares-running");
  });

  it("ignores g/y flags on the caller's regex and honours `since`", async () => {
    const path = join(dir, "serial.log");
    await writeFile(path, "mark 1\nmark 2\n");
    const log = new SerialLog(path);
    const re = /mark (\d)/g;
    expect((await log.waitFor(re, { timeoutMs: 100 })).match[1]).toBe("1");
    expect((await log.waitFor(re, { timeoutMs: 100 })).match[1]).toBe("1");
    expect((await log.waitFor(re, { timeoutMs: 100, since: 5 })).match[1]).toBe("2");
  });

  it("times out with a boot-failed error carrying the last 40 lines", async () => {
    const path = join(dir, "serial.log");
    const lines = Array.from({ length: 60 }, (_, i) => `line ${i + 1}`);
    await writeFile(path, `${lines.join("\r\n")}\r\n`);
    const log = new SerialLog(path);
    const err = await log.waitFor(/never/, { timeoutMs: 100, pollMs: 20 }).catch((e) => e);
    expect(err).toBeInstanceOf(AtomisoError);
    expect(err.code).toBe("boot-failed");
    expect(err.message).toContain("did not show /never/");
    expect(err.message).toContain("last 40 lines");
    expect(err.message).toContain("| line 21");
    expect(err.message).toContain("| line 60");
    expect(err.message).not.toContain("| line 20\n");
    expect(err.hint).toBeTruthy();
  });

  it("fails at once when the guest's kernel panics, naming the first oops", async () => {
    const path = join(dir, "serial.log");
    // As the live ISO's kernel printed it in a 2-vCPU TCG guest (2026-12-05).
    await writeFile(
      path,
      [
        "[   28.374944] (sd-exec-[387]: /usr/lib/systemd/system-generators/systemd-ssh-generator failed with exit status 1.",
        "[   29.866000] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI",
        "[   29.866816] RIP: 0010:enqueue_entity+0x11f/0x500",
        "[   29.872434] Kernel panic - not syncing: Fatal exception in interrupt",
        "[   33.040636] ---[ end Kernel panic - not syncing: Fatal exception in interrupt ]---",
        "",
      ].join("\r\n"),
    );
    const log = new SerialLog(path);
    const started = Date.now();
    const err = await log.waitFor(/calamares-running/, { timeoutMs: 60_000 }).catch((e) => e);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err).toBeInstanceOf(AtomisoError);
    expect(err.code).toBe("boot-failed");
    expect(err.message).toContain(
      `the guest's kernel panicked ("Kernel panic - not syncing: Fatal exception in interrupt" after "[   29.866000] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI")`,
    );
    expect(err.message).toContain("| [   29.866816] RIP: 0010:enqueue_entity+0x11f/0x500");
    // What the wait asks for is looked for first: a line that did come is still found.
    await appendFile(path, "ATOMISO-MARKER calamares-running\r\n");
    const found = await log.waitFor(/calamares-running/, { timeoutMs: 1000, since: 0 });
    expect(found.line).toBe("ATOMISO-MARKER calamares-running");
  });

  it("keeps every line once when several waits poll the same log at the same time", async () => {
    // The install test races an "installed" wait against a "failed" wait on one log; two
    // reads from the same offset used to append the same bytes twice and garble the text.
    const path = join(dir, "serial.log");
    const log = new SerialLog(path);
    const lines = Array.from({ length: 400 }, (_, i) => `atomiso-progress ${i} ${"x".repeat(60)}`);
    const writer = (async () => {
      for (let i = 0; i < lines.length; i += 20) {
        await appendFile(path, `${lines.slice(i, i + 20).join("\r\n")}\r\n`);
        await new Promise((r) => setTimeout(r, 2));
      }
      await appendFile(path, "atomiso-install: installed it\r\n");
    })();
    const stop = new AbortController();
    const waits = [/atomiso-install: installed/, /never/, /never either/].map((re) =>
      log.waitFor(re, { timeoutMs: 3000, pollMs: 1, signal: stop.signal }).catch(() => undefined),
    );
    expect((await waits[0])?.line).toBe("atomiso-install: installed it");
    await writer;
    stop.abort("done");
    await Promise.all(waits);
    await Promise.all([log.poll(), log.poll(), log.poll()]);
    expect(log.text()).toBe(`${[...lines, "atomiso-install: installed it"].join("\n")}\n`);
  });

  it("stops when the signal aborts, naming the reason", async () => {
    const log = new SerialLog(join(dir, "missing.log"));
    const ctl = new AbortController();
    setTimeout(() => ctl.abort("QEMU exited (exit status 1)"), 50);
    const err = await log
      .waitFor(/x/, { timeoutMs: 10_000, pollMs: 20, signal: ctl.signal })
      .catch((e) => e);
    expect(err.code).toBe("boot-failed");
    expect(err.message).toMatch(/^QEMU exited \(exit status 1\) before the serial console showed/);
    expect(err.message).toContain("(the serial log is empty)");
  });
});

describe("SerialLog.waitForIfAny", () => {
  it("returns the match, or nothing when the time is up, yet throws on a panic", async () => {
    const path = join(dir, "serial.log");
    await writeFile(path, "calamares: All requirements have been checked.\n");
    const log = new SerialLog(path);
    const found = await log.waitForIfAny(/All requirements/, { timeoutMs: 100, pollMs: 20 });
    expect(found?.line).toBe("calamares: All requirements have been checked.");
    expect(await log.waitForIfAny(/never/, { timeoutMs: 100, pollMs: 20 })).toBeUndefined();

    await appendFile(path, "Kernel panic - not syncing: Fatal exception in interrupt\n");
    const err = await log.waitForIfAny(/never/, { timeoutMs: 60_000 }).catch((e) => e);
    expect(err).toBeInstanceOf(AtomisoError);
    expect(err.message).toContain("kernel panicked");
  });
});

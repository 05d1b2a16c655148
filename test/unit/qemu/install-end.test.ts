import { afterEach, describe, expect, it, vi } from "vitest";
import { AtomisoError } from "../../../src/errors.js";
import { afterInstallStep } from "../../../src/qemu/install.js";
import { settleWithin } from "../../../src/qemu/timeout.js";

describe("the live system's done marker", () => {
  it("waits for the power-off only when the live system powers off itself", () => {
    expect(afterInstallStep("ATOMISO-MARKER unattended-done after=poweroff")).toEqual({
      after: "poweroff",
      step: "wait-for-poweroff",
    });
  });

  it("stops the guest at once after reboot (it would install again) and none (it would idle)", () => {
    expect(afterInstallStep("ATOMISO-MARKER unattended-done after=reboot")).toEqual({
      after: "reboot",
      step: "stop-guest",
    });
    // As read back from the serial console: kernel text can precede the marker on its line.
    expect(afterInstallStep("[  812.1] ATOMISO-MARKER unattended-done after=none")).toEqual({
      after: "none",
      step: "stop-guest",
    });
  });

  it("refuses an action it does not know, and a line that is no done marker", () => {
    expect(() => afterInstallStep("ATOMISO-MARKER unattended-done after=halt")).toThrow(
      /after=halt; only poweroff, reboot and none are known/,
    );
    expect(() => afterInstallStep("ATOMISO-MARKER unattended-start answer=x")).toThrow(
      AtomisoError,
    );
  });
});

describe("settleWithin", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("returns the value and leaves no timer behind when the promise wins", async () => {
    vi.useFakeTimers();
    const result = await settleWithin(Promise.resolve(7), 5 * 60_000);
    expect(result).toEqual({ settled: true, value: 7 });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("reports the timeout when the time runs out, with its timer gone too", async () => {
    vi.useFakeTimers();
    const never = new Promise<number>(() => {});
    const waiting = settleWithin(never, 1000);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1000);
    await expect(waiting).resolves.toEqual({ settled: false });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("passes a rejection on and clears the timer", async () => {
    vi.useFakeTimers();
    await expect(settleWithin(Promise.reject(new Error("boom")), 60_000)).rejects.toThrow("boom");
    expect(vi.getTimerCount()).toBe(0);
  });
});

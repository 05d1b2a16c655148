import { describe, expect, it } from "vitest";
import { AtomisoError } from "../../src/errors.js";
import { CommandError, run } from "../../src/tools/exec.js";
import { inPrivateMountNamespace } from "../../src/tools/namespace.js";
import { quoteArgv } from "../../src/tools/shell-quote.js";

describe("exec wrapper", () => {
  it("quotes argv so a failed command can be pasted", () => {
    expect(quoteArgv(["mksquashfs", "a b", "it's", "-comp", "zstd"])).toBe(
      `mksquashfs 'a b' 'it'\\''s' -comp zstd`,
    );
  });

  it("passes arguments without a shell", async () => {
    const { stdout } = await run(["printf", "%s|", "$HOME", "a;b", "*"]);
    expect(stdout).toBe("$HOME|a;b|*|");
  });

  it("reports a failure with status, stderr tail and hint", async () => {
    const err = await run(["sh", "-c", "echo bad thing >&2; exit 3"], { hint: "do this" }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CommandError);
    expect((err as CommandError).status).toBe(3);
    expect((err as CommandError).message).toContain("exit status 3");
    expect((err as CommandError).message).toContain("| bad thing");
    expect((err as CommandError).hint).toBe("do this");
  });

  it("says which tool is missing", async () => {
    const err = await run(["atomiso-no-such-tool"]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AtomisoError);
    expect((err as AtomisoError).code).toBe("tool-missing");
    expect((err as AtomisoError).message).toContain('"atomiso-no-such-tool" is not installed');
  });

  it("runs every tool with a parent-death signal, under its own pid", async () => {
    // setpriv execs the tool, so the pid we track (and signal) is the tool's.
    const { stdout } = await run(["sh", "-c", "grep -E '^(Name|PPid):' /proc/$$/status"]);
    expect(stdout).toContain("Name:\tsh");
    expect(stdout).toContain(`PPid:\t${process.pid}`);
  });

  it("hands extra file descriptors to the child as fd 3…", async () => {
    const { openSync, closeSync } = await import("node:fs");
    const fd = openSync("/proc/self/status", "r");
    try {
      const { stdout } = await run(["sh", "-c", "head -c 5 <&3"], { extraFds: [fd] });
      expect(stdout).toBe("Name:");
    } finally {
      closeSync(fd);
    }
  });

  it("wraps commands in a private mount namespace", () => {
    expect(inPrivateMountNamespace(["mmdebstrap", "x"])).toEqual([
      "unshare",
      "--mount",
      "--propagation",
      "private",
      "--pid",
      "--fork",
      "--kill-child=SIGKILL",
      "--",
      "mmdebstrap",
      "x",
    ]);
  });
});

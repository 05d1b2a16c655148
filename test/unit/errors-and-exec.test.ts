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
  });

  it("wraps commands in a private mount namespace", () => {
    expect(inPrivateMountNamespace(["mmdebstrap", "x"])).toEqual([
      "unshare",
      "--mount",
      "--propagation",
      "private",
      "--fork",
      "--kill-child=SIGTERM",
      "--",
      "mmdebstrap",
      "x",
    ]);
  });
});

// The build log beside the ISO: steps with timings, every command with all of its output (also
// when the caller ignores it), the error, and the file appears only when complete.
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BuildLog } from "../../src/log/build-log.js";
import { createReporter } from "../../src/log/reporter.js";
import { run } from "../../src/tools/exec.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "atomiso-build-log-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("BuildLog", () => {
  it("records steps, every command's output and exit, then moves into place", async () => {
    const iso = join(dir, "out/os-1.0.iso");
    const log = new BuildLog(iso, ["atomiso test build"]);
    const screen: string[] = [];
    const reporter = createReporter({
      kind: "plain",
      write: (t) => screen.push(t),
      logLine: (l) => log.write(l),
    });
    await reporter.step("Make things", async () => {
      // No onLine: the caller ignores the output, the log still gets it.
      await run(["sh", "-c", "echo to-stdout; echo to-stderr >&2"]);
      await run(["sh", "-c", "echo seen; exit 3"], { okExitCodes: [3] });
    });
    await expect(run(["sh", "-c", "echo dying >&2; exit 4"])).rejects.toThrow(/exit status 4/);
    expect(existsSync(`${iso}.log`), "not in place before close").toBe(false);
    expect(log.close("build finished")).toBe(`${iso}.log`);
    await run(["sh", "-c", "echo after-close"]);

    const text = await readFile(`${iso}.log`, "utf8");
    expect(text).toMatch(/^\s+0\.\ds atomiso test build$/m);
    expect(text).toMatch(/▶ Make things/);
    expect(text).toMatch(/✔ Make things \(\d+\.\ds\)/);
    expect(text).toMatch(/\[cmd (\d+)\] \$ sh -c 'echo to-stdout; echo to-stderr >&2'/);
    expect(text).toMatch(/\[cmd \d+\] \| to-stdout/);
    expect(text).toMatch(/\[cmd \d+\] ! to-stderr/);
    expect(text).toMatch(/\[cmd \d+\] exit status 3 after \d+\.\ds/);
    expect(text).toMatch(/\[cmd \d+\] ! dying\n.*\[cmd \d+\] exit status 4 after/);
    expect(text.trimEnd()).toMatch(/build finished$/);
    expect(text).not.toContain("after-close");
    // Tool output stays off the screen unless verbose.
    expect(screen.join("")).not.toContain("to-stdout");
    expect(await readdir(join(dir, "out"))).toEqual(["os-1.0.iso.log"]);
  });
});

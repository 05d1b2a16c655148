// The live-system Python package (installer-scripts/atomiso_live) has unit tests of its own,
// written with Python's unittest (test/python/): plan validation, the backend argv and line
// protocol, crypttab/fstab/group text and the group policy. This runs them with the host's
// python3 (3.11 on bookworm; the live system has 3.13); live-files.test.ts checks that the
// package lands in the live root's dist-packages.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { KERNEL_ARG, KERNEL_ARG_MAX } from "../../src/config/kernel-args.js";
import { run } from "../../src/tools/exec.js";

const repo = join(import.meta.dirname, "../..");

describe("atomiso_live (Python unit tests)", () => {
  it("passes every unittest in test/python", async () => {
    const r = await run(
      [
        "python3",
        "-B",
        "-m",
        "unittest",
        "discover",
        "-v",
        "-s",
        "test/python",
        "-t",
        "test/python",
      ],
      {
        cwd: repo,
        env: { PYTHONPATH: [join(repo, "installer-scripts"), join(repo, "test/python")].join(":") },
        okExitCodes: [0, 1],
        timeoutMs: 120_000,
      },
    );
    // unittest reports on stderr: "Ran N tests in …" then "OK" or "FAILED (…)".
    const ran = Number(/^Ran (\d+) tests? in /m.exec(r.stderr)?.[1] ?? 0);
    expect(r.stderr, r.stderr).toMatch(/\nOK\s*$/);
    expect(r.exitCode).toBe(0);
    expect(ran).toBeGreaterThanOrEqual(30);
  }, 150_000);

  it("checks kernel arguments with the profile's grammar (src/config/kernel-args.ts)", () => {
    // The answer file's kernel arguments must pass exactly what a profile's may: the Python
    // pattern is the TypeScript one without its anchors (Python's fullmatch anchors it).
    const py = readFileSync(join(repo, "installer-scripts/atomiso_live/kargs.py"), "utf8");
    expect(/^_KARG = re\.compile\(r"(.*)"\)$/m.exec(py)?.[1]).toBe(
      KERNEL_ARG.source.replace(/^\^|\$$/g, ""),
    );
    expect(py).toContain(`len(karg) > ${KERNEL_ARG_MAX}`);
  });
});

// The live-system Python package (installer-scripts/atomiso_live) has unit tests of its own,
// written with Python's unittest (test/python/): plan validation, the backend argv and line
// protocol, crypttab/fstab/group text and the group policy. This runs them with the host's
// python3 (3.11 on bookworm; the live system has 3.13) and checks that the package lands in
// the live root's dist-packages, where python3 and Calamares' embedded interpreter find it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { KERNEL_ARG, KERNEL_ARG_MAX } from "../../src/config/kernel-args.js";
import { renderLiveFiles } from "../../src/render/live-files.js";
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

  it("is installed into the live root's dist-packages with every module", () => {
    const files = renderLiveFiles({
      productName: "ParticleOS",
      productId: "particleos",
      productVersion: "0.1.0",
      suite: "trixie",
      user: "live",
    });
    const pkg = files
      .filter((f) => f.path.startsWith("usr/lib/python3/dist-packages/atomiso_live/"))
      .map((f) => f.path.slice("usr/lib/python3/dist-packages/atomiso_live/".length));
    for (const m of ["__init__.py", "plan.py", "backend.py", "target.py", "proc.py", "mounts.py"]) {
      expect(pkg).toContain(m);
    }
    expect(pkg.filter((p) => p.includes("__pycache__"))).toEqual([]);
  });

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

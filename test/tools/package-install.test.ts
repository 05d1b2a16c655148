// The npm package as a user gets it: `npm pack` (prepack compiles dist/), installed globally
// into a temp prefix, run from there. Proves the tarball carries dist/ and the runtime assets,
// finds them relative to itself, and ships no tests.
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/tools/exec.js";

const repo = join(import.meta.dirname, "../..");
let dir: string;
let atomiso: string;
let installed: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "atomiso-package-test-"));
  await run(["npm", "pack", "--pack-destination", dir], { cwd: repo });
  const tarballs = (await readdir(dir)).filter((f) => /^atomiso-.*\.tgz$/.test(f));
  expect(tarballs).toHaveLength(1);
  const prefix = join(dir, "prefix");
  await run([
    "npm",
    "install",
    "--global",
    "--prefix",
    prefix,
    "--no-audit",
    "--no-fund",
    "--prefer-offline",
    join(dir, tarballs[0] as string),
  ]);
  atomiso = join(prefix, "bin/atomiso");
  installed = join(prefix, "lib/node_modules/atomiso");
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function runInstalled(args: string[], cwd = dir): string {
  return execFileSync(atomiso, args, { cwd, encoding: "utf8" });
}

describe("the installed npm package", () => {
  it("ships dist and the runtime assets, and no tests", async () => {
    const top = await readdir(installed);
    for (const d of ["bin", "dist", "calamares", "installer-scripts", "libexec", "branding"])
      expect(top).toContain(d);
    expect(top).not.toContain("test");
    expect(await readdir(join(installed, "dist/cli"))).toContain("main.js");
  });

  it("reports its version", () => {
    const pkg = JSON.parse(
      execFileSync("npm", ["pkg", "get", "version"], { cwd: repo, encoding: "utf8" }),
    );
    expect(runInstalled(["--version"]).trim()).toBe(pkg);
  });

  it("runs doctor", () => {
    // doctor exits non-zero when a check fails; here only its report matters.
    let out: string;
    try {
      out = runInstalled(["doctor"]);
    } catch (e) {
      out = String((e as { stdout?: string }).stdout);
    }
    expect(out).toMatch(/host tools: /);
    expect(out).toMatch(/node: Node \d+/);
  });

  it("writes a project with init that validates", () => {
    const out = runInstalled(["init", "myos", "--name", "My OS"]);
    expect(out).toContain(join(dir, "myos", "atomiso.toml"));
    const validated = runInstalled(["validate"], join(dir, "myos"));
    expect(validated).toContain("atomiso.toml: ok (My OS 0.1.0)");
    // Planning hashes the stage recipes (src/, libexec/, …) of the installed package.
    const plan = runInstalled(["plan", "--no-payload"], join(dir, "myos"));
    expect(plan).toContain("plan for atomiso.toml -> out/my-os-0.1.0-nopayload.iso");
    expect(plan).toMatch(/bootstrap\s+[0-9a-f]{16}/);
  });
});

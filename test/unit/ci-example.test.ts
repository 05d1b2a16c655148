// The GitHub Actions example users copy (examples/ci/github-actions.yml) is not run here: this
// checks that it parses and has the shape the issue asks for. (No Debian package provides
// actionlint, so it is not linted further.)
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Workflow {
  name: string;
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  env: Record<string, string>;
  jobs: Record<string, { "runs-on": string; "timeout-minutes": number; steps: Step[] }>;
}

const file = join(import.meta.dirname, "../../examples/ci/github-actions.yml");

describe("examples/ci/github-actions.yml", async () => {
  const wf = load(await readFile(file, "utf8")) as Workflow;
  const job = wf.jobs.iso;
  const steps = job?.steps ?? [];
  const runs = steps.map((s) => s.run ?? "").join("\n");
  const indexOf = (re: RegExp) => steps.findIndex((s) => re.test(s.run ?? ""));

  it("is a workflow with one job on a Linux runner, allowed to push packages", () => {
    expect(wf.name).toBeTruthy();
    expect(Object.keys(wf.on)).toEqual(expect.arrayContaining(["push", "workflow_dispatch"]));
    expect(wf.permissions).toEqual({ contents: "read", packages: "write" });
    expect(job?.["runs-on"]).toMatch(/^ubuntu-/);
    expect(job?.["timeout-minutes"]).toBeGreaterThan(30);
    for (const s of steps) {
      expect(s.name, JSON.stringify(s)).toBeTruthy();
      expect(Boolean(s.run) !== Boolean(s.uses), `${s.name}: run or uses`).toBe(true);
      if (s.uses) expect(s.uses).toMatch(/^actions\/[a-z-]+@v\d+$/);
    }
  });

  it("builds the builder container and runs atomiso inside it, privileged as documented", () => {
    expect(runs).toContain("oci/builder/build-image");
    expect(runs).toMatch(/podman run --rm --privileged --network host/);
    for (const mount of [
      "/dev:/dev",
      "/var/cache/atomiso:/var/cache/atomiso",
      ":/var/lib/containers",
    ])
      expect(runs).toContain(mount);
  });

  it("builds and pushes the image to the repository's registry before building the ISO", () => {
    expect(runs).toMatch(/podman login .*ghcr\.io/);
    const image = indexOf(/in-builder atomiso .*image build/);
    const push = indexOf(/in-builder atomiso .* push$/m);
    const build = indexOf(/in-builder atomiso .*"\$CONFIG" build$/m);
    const boot = indexOf(/in-builder atomiso .*test boot/);
    expect(image).toBeGreaterThan(0);
    expect(push).toBeGreaterThan(image);
    expect(build).toBeGreaterThan(push);
    expect(boot).toBeGreaterThan(build);
  });

  it("boots with KVM only when the runner has it, and uploads the ISO with its checksum", () => {
    expect(runs).toMatch(/if \[ -e \/dev\/kvm \]; then kvm=\(--kvm\); fi/);
    expect(runs).toContain("sha256sum");
    const upload = steps.find((s) => s.uses?.startsWith("actions/upload-artifact") && !s.if);
    const paths = String(upload?.with?.path);
    for (const p of ["out/*.iso", "out/*.iso.log", "out/SHA256SUMS"]) expect(paths).toContain(p);
  });

  it("every shell step is valid bash", async () => {
    const { execFileSync } = await import("node:child_process");
    for (const s of steps.filter((x) => x.run))
      expect(() => execFileSync("bash", ["-n"], { input: s.run }), s.name).not.toThrow();
  });
});

// Builds the example ISO, with its system image embedded, once per test run (globalSetup of
// the iso and boot tiers). Stages come from the shared cache outside the clone and the image
// from podman's layer cache, so an unchanged tree rebuilds in seconds.
import { execa } from "execa";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    isoPath: string;
    isoBuildLog: string;
  }
}

export const EXAMPLE_CONFIG = "examples/particleos/atomiso.toml";

export default async function setup(project: TestProject): Promise<void> {
  const started = Date.now();
  // The quick start's own script: image build, local registry, push + pin, ISO build.
  const build = await execa("bash", [".ci/example-iso"], {
    all: true,
    reject: false,
    env: { ATOMISO_LOG: "plain" },
  });
  if (build.exitCode !== 0) {
    throw new Error(`building the example ISO failed (exit ${build.exitCode}):\n${build.all}`);
  }
  const plan = await execa("node", [
    "bin/atomiso.js",
    "--config",
    EXAMPLE_CONFIG,
    "plan",
    "--json",
  ]);
  const isoPath = (JSON.parse(plan.stdout) as { output: string }).output;
  console.log(`example ISO ready in ${((Date.now() - started) / 1000).toFixed(0)}s: ${isoPath}`);
  project.provide("isoPath", isoPath);
  project.provide("isoBuildLog", build.all ?? "");
}

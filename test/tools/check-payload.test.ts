// Calamares' first install step, installer-scripts/live/check-payload: the plan is read by
// atomiso_live.plan (the package from the source tree, as the live system's dist-packages
// has it), the real verify-payload checks a tiny OCI layout. Each refusal leaves exit status 1
// and a sentence saying nothing was written.
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { type RunResult, run } from "../../src/tools/exec.js";
import { makeTinyLayout } from "../support/tiny-layout.js";

const repo = join(import.meta.dirname, "../..");
const CHECK = join(repo, "installer-scripts/live/check-payload");

describe("check-payload", () => {
  let work: string;
  let layout: string;
  let digest: string;

  beforeAll(async () => {
    work = await mkdtemp("/var/tmp/atomiso-check-payload-");
    layout = join(work, "payload");
    digest = await makeTinyLayout(layout, work);
  });

  afterAll(async () => {
    if (work) await safeRemove(work);
  });

  async function check(plan: Record<string, unknown> | null): Promise<RunResult> {
    const file = join(work, `plan-${Math.random().toString(36).slice(2)}.json`);
    if (plan) await writeFile(file, JSON.stringify(plan));
    return run([CHECK, file], {
      okExitCodes: [0, 1],
      env: { PYTHONPATH: join(repo, "installer-scripts") },
    });
  }

  const plan = (o: { version?: number; layout?: string } = {}) => ({
    version: o.version ?? 1,
    product: { name: "ParticleOS", id: "particleos", version: "0.1.0" },
    backend: "ostree",
    image: {
      reference: "registry.example.org/p/s:0.1.0",
      digest,
      pinned: "x",
      size: 1,
      unpackedSize: 1,
    },
    payload: { mode: "embedded", layout: o.layout ?? layout },
    ostree: { stateroot: "particleos", ref: "atomiso/particleos" },
    kargs: ["console=ttyS0,115200"],
    layout: {
      table: "gpt",
      biosBootMiB: 1,
      efiMiB: 100,
      bootMiB: 256,
      rootMinGiB: 1,
      filesystem: "ext4",
      filesystems: ["ext4"],
      encryption: false,
    },
    users: { groups: ["users"], sudoGroup: "sudo", shell: "/bin/bash" },
    requirements: { storageGiB: 2, ramGiB: 1 },
    scripts: join(repo, "installer-scripts/deploy"),
  });

  it("verifies the payload a valid plan names", async () => {
    const r = await check(plan());
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`system image ${digest} verified`);
  });

  it("refuses a plan of another version, naming it", async () => {
    const r = await check(plan({ version: 2 }));
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(
      /^atomiso-error: the install plan .* has version 2, this installer reads version 1/m,
    );
    expect(r.stderr).toMatch(/nothing was written to any disk/);
  });

  it("refuses a missing plan (an ISO built with --no-payload)", async () => {
    const r = await check(null);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/built without a system image .*\nNothing was written to any disk/);
  });

  it("refuses a damaged payload", async () => {
    const bad = join(work, "bad-payload");
    await run(["cp", "-a", "--", layout, bad]);
    const index = JSON.parse(await readFile(join(bad, "index.json"), "utf8"));
    const manifest = JSON.parse(
      await readFile(join(bad, "blobs/sha256", index.manifests[0].digest.slice(7)), "utf8"),
    );
    const blob = join(bad, "blobs/sha256", manifest.layers[0].digest.slice(7));
    const data = await readFile(blob);
    data[600] = (data[600] ?? 0) ^ 0xff;
    await writeFile(blob, data);
    const r = await check(plan({ layout: bad }));
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/does not match its content/);
    expect(r.stderr).toMatch(/damaged \(see the line above\), so nothing was written to any disk/);
  });
});

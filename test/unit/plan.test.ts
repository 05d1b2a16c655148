import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type LoadedConfig, loadConfig } from "../../src/config/load.js";
import { AtomisoError } from "../../src/errors.js";
import { type ImageLock, writeLock } from "../../src/image/lock.js";
import type { InstallPlan } from "../../src/install/install-plan.js";
import { describePlan, type Plan, planIso } from "../../src/plan/plan.js";
import { planEpochs } from "../../src/release/epoch.js";
import { D1, LOCK } from "../support/lock-fixture.js";

const example = join(import.meta.dirname, "../../examples/particleos/atomiso.toml");

const keys = (plan: Plan) =>
  Object.fromEntries(plan.steps.map((s) => [s.stage.definition.id, s.key]));

// The example profile, with its atomiso.lock read from a temp dir (the lock sits next to the
// config file; the profile's own relative paths still resolve from its folder).
const work = await mkdtemp("/tmp/atomiso-plan-test-");
afterAll(() => rm(work, { recursive: true, force: true }));
async function withLock(lock: ImageLock | undefined, name: string): Promise<LoadedConfig> {
  const loaded = structuredClone(await loadConfig(example));
  loaded.file = join(work, name, "atomiso.toml");
  if (lock) await writeLock(join(work, name, "atomiso.lock"), lock);
  return loaded;
}
for (const d of ["pinned", "repinned", "other", "none", "noluks", "oldlock"])
  await mkdir(join(work, d));

describe("plan", async () => {
  const loaded = await withLock(LOCK, "pinned");
  const plan = await planIso(loaded);

  it("orders the stages so every stage comes after its inputs", () => {
    const ids = plan.steps.map((s) => s.stage.definition.id);
    expect(ids).toEqual([
      "bootstrap",
      "calamares",
      "live-config",
      "squashfs-base",
      "squashfs-config",
      "kernel",
      "boot-files",
      "payload",
      "iso",
    ]);
    for (const [i, step] of plan.steps.entries()) {
      for (const dep of step.stage.after) expect(ids.indexOf(dep)).toBeLessThan(i);
    }
    expect(plan.output).toBe(join(loaded.dir, "out/particleos-0.1.0.iso"));
  });

  it("is deterministic", async () => {
    expect(keys(await planIso(loaded))).toEqual(keys(plan));
  });

  it("rebuilds only the live layer and the ISO when the hostname changes", async () => {
    const changed = structuredClone(loaded);
    changed.config.live.hostname = "other-live";
    const before = keys(plan);
    const after = keys(await planIso(changed));
    const differs = Object.keys(before).filter((id) => before[id] !== after[id]);
    expect(differs).toEqual(["live-config", "squashfs-config", "iso"]);
  });

  it("a derived epoch keeps the shared base stages; only a SOURCE_DATE_EPOCH the user set reaches them", async () => {
    const derived = keys(await planIso(loaded, planEpochs({ epoch: 1796369311, source: "git" })));
    const set = keys(
      await planIso(loaded, planEpochs({ epoch: 1796369311, source: "SOURCE_DATE_EPOCH" })),
    );
    const none = keys(plan);
    for (const shared of ["bootstrap", "squashfs-base"]) {
      expect(derived[shared], shared).toBe(none[shared]);
      expect(set[shared], shared).not.toBe(none[shared]);
    }
    for (const own of ["squashfs-config", "iso"]) expect(derived[own], own).not.toBe(none[own]);
  });

  it("rebuilds the base system when a package is added", async () => {
    const changed = structuredClone(loaded);
    changed.config.live.packages = ["htop"];
    const before = keys(plan);
    const after = keys(await planIso(changed));
    expect(Object.keys(before).filter((id) => before[id] !== after[id])).toEqual([
      "bootstrap",
      "live-config",
      "squashfs-base",
      "squashfs-config",
      "kernel",
      "iso",
    ]);
  });

  it("rebuilds only the payload and the ISO when a new image is pinned", async () => {
    const D3 = `sha256:${"3".repeat(64)}`;
    const after = keys(
      await planIso(
        await withLock(
          { ...LOCK, digest: D3, pinned: `${LOCK.pinned.split("@")[0]}@${D3}` },
          "repinned",
        ),
      ),
    );
    const before = keys(plan);
    expect(Object.keys(before).filter((id) => before[id] !== after[id])).toEqual([
      "payload",
      "iso",
    ]);
  });

  it("puts the install plan (image, layout, users) on the ISO", () => {
    const iso = plan.steps.find((s) => s.stage.definition.id === "iso");
    if (!iso) throw new Error("no iso stage");
    const ip = (iso.stage.options as { installPlan: InstallPlan }).installPlan;
    expect(ip).toMatchObject({
      backend: "ostree",
      // image.track: what the installed system updates from (the backends write it to the origin).
      image: {
        reference: "10.0.2.100:5000/particleos/system:stable",
        digest: D1,
        pinned: LOCK.pinned,
        // image.auto_update is off unless the profile opts in.
        autoUpdate: false,
      },
      payload: { mode: "embedded", layout: "/run/live/medium/atomiso/payload" },
      ostree: { stateroot: "particleos", ref: "atomiso/particleos" },
      layout: { efiMiB: 512, bootMiB: 1024, biosBootMiB: 1, filesystem: "ext4" },
      users: { sudoGroup: "sudo" },
      scripts: "/usr/lib/atomiso/deploy",
    });
  });

  it("carries image.auto_update into the install plan (the installers enable the timer)", async () => {
    const auto = structuredClone(loaded);
    if (!auto.config.image) throw new Error("the example has an [image]");
    auto.config.image.auto_update = true;
    const iso = (await planIso(auto)).steps.find((s) => s.stage.definition.id === "iso");
    if (!iso) throw new Error("no iso stage");
    const ip = (iso.stage.options as { installPlan: InstallPlan }).installPlan;
    expect(ip.image.autoUpdate).toBe(true);
  });

  it("plans an online install: no payload on the ISO, the welcome page requires the registry", async () => {
    const online = structuredClone(loaded);
    if (!online.config.image) throw new Error("the example has an [image]");
    online.config.image.payload = "online";
    const p = await planIso(online);
    const ids = p.steps.map((s) => s.stage.definition.id);
    expect(ids).not.toContain("payload");
    const iso = p.steps.find((s) => s.stage.definition.id === "iso");
    if (!iso) throw new Error("no iso stage");
    expect(iso.stage.after).not.toContain("payload");
    const ip = (iso.stage.options as { installPlan: InstallPlan }).installPlan;
    expect(ip.payload).toEqual({ mode: "online", source: LOCK.pinned, tlsVerify: LOCK.tlsVerify });
    const calamares = p.steps.find((s) => s.stage.definition.id === "calamares");
    // The example registry is plain HTTP (tls_verify = false).
    expect(calamares?.stage.options).toMatchObject({ onlineCheckUrl: "http://127.0.0.1:5000/v2/" });
    const before = keys(plan);
    const after = keys(p);
    // The live root gains skopeo (fetch-payload pulls the image with it): a new bootstrap.
    expect(Object.keys(after).filter((id) => before[id] !== after[id])).toEqual([
      "bootstrap",
      "calamares",
      "live-config",
      "squashfs-base",
      "squashfs-config",
      "kernel",
      "iso",
    ]);
    const bootstrap = (s: typeof p) =>
      s.steps.find((x) => x.stage.definition.id === "bootstrap")?.stage.options as {
        packages: string[];
      };
    expect(bootstrap(p).packages).toContain("skopeo");
    expect(bootstrap(plan).packages).not.toContain("skopeo");
    expect(bootstrap(plan).packages).not.toContain("podman");
  });

  it("takes the welcome page's internet check URL from the config (a registry that answers 401)", async () => {
    const online = structuredClone(loaded);
    if (!online.config.image) throw new Error("the example has an [image]");
    online.config.image.payload = "online";
    online.config.installer.requirements.internet_check_url = "https://status.example.org/ok";
    const calamares = (await planIso(online)).steps.find(
      (s) => s.stage.definition.id === "calamares",
    );
    expect(calamares?.stage.options).toMatchObject({
      onlineCheckUrl: "https://status.example.org/ok",
    });
    // Only online installs check the internet: the setting changes nothing for embedded ones.
    const embedded = structuredClone(loaded);
    embedded.config.installer.requirements.internet_check_url = "https://status.example.org/ok";
    const options = (await planIso(embedded)).steps.find(
      (s) => s.stage.definition.id === "calamares",
    )?.stage.options;
    expect(options).not.toHaveProperty("onlineCheckUrl");
  });

  it("refuses an unpinned image and says how to pin it, unless told to leave it out", async () => {
    const none = await withLock(undefined, "none");
    const err = await planIso(none).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AtomisoError);
    expect((err as AtomisoError).code).toBe("image-unpinned");
    expect((err as AtomisoError).hint).toContain("atomiso push");
    expect((err as AtomisoError).hint).toContain("--no-payload");
    const ids = (await planIso(none, { noPayload: true })).steps.map((s) => s.stage.definition.id);
    expect(ids).not.toContain("payload");
  });

  it("offers encryption only with an image that can unlock a LUKS root (the lint's finding in the lock)", async () => {
    expect(loaded.config.installer.partition.encryption).toBe(true);
    const iso = plan.steps.find((s) => s.stage.definition.id === "iso");
    if (!iso) throw new Error("no iso stage");
    const ip = (iso.stage.options as { installPlan: InstallPlan }).installPlan;
    expect(ip.layout.encryption).toBe(true);
    const cannot = await planIso(await withLock({ ...LOCK, luks: false }, "noluks")).catch(
      (e: unknown) => e,
    );
    expect(cannot).toBeInstanceOf(AtomisoError);
    expect((cannot as AtomisoError).message).toMatch(
      /installer\.partition\.encryption is true, but the pinned image has no systemd-cryptsetup/,
    );
    expect((cannot as AtomisoError).hint).toMatch(/set encryption = false/);
    const { luks: _l, ...old } = LOCK;
    await expect(planIso(await withLock(old, "oldlock"))).rejects.toThrow(/predates that check/);
    const off = structuredClone(await withLock({ ...LOCK, luks: false }, "noluks"));
    off.config.installer.partition.encryption = false;
    await expect(planIso(off)).resolves.toBeDefined();
  });

  it("refuses a lock that pins another reference", async () => {
    const other = await withLock({ ...LOCK, reference: "127.0.0.1:5000/other/system:1" }, "other");
    await expect(planIso(other)).rejects.toThrow(/pins 127\.0\.0\.1:5000\/other\/system:1/);
  });

  it("prints as JSON without host paths in the keyed options", () => {
    const json = describePlan(plan);
    expect(json.stages[0]).toMatchObject({ id: "bootstrap", tools: ["mmdebstrap", "unshare"] });
    expect(JSON.stringify(json.stages[0]?.options)).toContain("calamares");
    expect(json.stages.every((s) => s.key.length === 16)).toBe(true);
  });
});

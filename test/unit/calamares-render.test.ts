import { load } from "js-yaml";
import { describe, expect, it } from "vitest";
import type { SettingsConf } from "../../src/render/calamares/model.js";
import { NOCONFIG_MODULES, renderCalamares } from "../../src/render/calamares/render.js";

const options = {
  productName: "ParticleOS",
  productId: "particleos",
  productVersion: "0.1.0",
  hostnameTemplate: "particleos-${product}",
  sidebarBackground: "#16324f",
  sidebarText: "#ffffff",
  brandingDir: "/nonexistent",
};

describe("calamares rendering", async () => {
  const files = await renderCalamares(options);
  const byPath = new Map(files.map((f) => [f.path, f]));
  const yaml = (path: string) => load(String(byPath.get(path)?.content)) as Record<string, unknown>;

  it("writes a .conf for every configurable module and instance in the sequence", () => {
    const settings = yaml("etc/calamares/settings.conf") as unknown as SettingsConf;
    const instances = new Map(settings.instances.map((i) => [`${i.module}@${i.id}`, i.config]));
    const steps = settings.sequence.flatMap((s) => ("show" in s ? s.show : s.exec));
    expect(steps).toContain("welcome");
    for (const step of steps) {
      if (NOCONFIG_MODULES.has(step)) continue;
      const conf = instances.get(step) ?? `${step}.conf`;
      expect(byPath.has(`etc/calamares/modules/${conf}`), `${step} -> ${conf}`).toBe(true);
    }
  });

  it("sets every top-level switch of settings.conf explicitly", () => {
    const settings = yaml("etc/calamares/settings.conf");
    for (const key of [
      "prompt-install",
      "dont-chroot",
      "oem-setup",
      "disable-cancel",
      "disable-cancel-during-exec",
      "hide-back-and-next-during-exec",
      "quit-at-end",
    ]) {
      expect(typeof settings[key], key).toBe("boolean");
    }
    expect(settings.branding).toBe("particleos");
  });

  it("brands the installer with the product", () => {
    const desc = yaml("etc/calamares/branding/particleos/branding.desc") as {
      componentName: string;
      strings: Record<string, string>;
      images: Record<string, string>;
    };
    expect(desc.componentName).toBe("particleos");
    expect(desc.strings.productName).toBe("ParticleOS");
    expect(desc.strings.versionedName).toBe("ParticleOS 0.1.0");
    for (const image of Object.values(desc.images)) {
      const png = byPath.get(`etc/calamares/branding/particleos/${image}`)?.content as Buffer;
      expect(png.subarray(1, 4).toString()).toBe("PNG");
    }
    expect(String(byPath.get("etc/calamares/branding/particleos/show.qml")?.content)).toContain(
      "Installing ParticleOS",
    );
  });

  it("does not require the internet on the welcome page", () => {
    const welcome = yaml("etc/calamares/modules/welcome.conf") as {
      requirements: { check: string[]; required: string[] };
    };
    expect(welcome.requirements.check).not.toContain("internet");
    expect(welcome.requirements.required.every((r) => welcome.requirements.check.includes(r))).toBe(
      true,
    );
  });

  it("matches the snapshot of every text file", () => {
    const text = Object.fromEntries(
      files.filter((f) => typeof f.content === "string").map((f) => [f.path, f.content]),
    );
    expect(text).toMatchSnapshot();
  });
});

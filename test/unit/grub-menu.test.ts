// The ISO's GRUB menu: the branding's colours mapped onto GRUB's 16, live-boot's networking
// left off (nonetworking: no ifupdown interfaces file for a root without one), and the memory a
// copy of the medium needs (medium.cfg, written when the ISO is packed) passed to the kernel.
import { describe, expect, it } from "vitest";
import {
  grubColor,
  liveKernelArgs,
  renderGrubCfg,
  toramNeedMiB,
} from "../../src/render/grub-cfg.js";
import { mediumGrubCfg } from "../../src/stages/iso.js";

describe("GRUB menu", () => {
  it("maps branding colours onto GRUB's palette", () => {
    // Backgrounds: by hue when coloured, black or light-gray when grey; never a light colour.
    expect(grubColor("#16324f", true)).toBe("blue");
    expect(grubColor("#1f2a36", true)).toBe("blue");
    expect(grubColor("#2e7d32", true)).toBe("green");
    expect(grubColor("#cc2222", true)).toBe("red");
    expect(grubColor("#101010", true)).toBe("black");
    expect(grubColor("#333333", true)).toBe("black");
    expect(grubColor("#ffffff", true)).toBe("light-gray");
    // Text: the nearest of all 16.
    expect(grubColor("#ffffff", false)).toBe("white");
    expect(grubColor("#ffff66", false)).toBe("yellow");
    expect(grubColor("#000000", false)).toBe("black");
    expect(() => grubColor("white", false)).toThrow(/#rrggbb/);
  });

  it("sets the menu colours from the branding, the highlight inverted", () => {
    const cfg = renderGrubCfg({
      productName: "ParticleOS",
      timeout: 5,
      extraKernelArgs: [],
      colors: { background: "#16324f", text: "#ffffff" },
    });
    expect(cfg).toContain("set menu_color_normal=white/blue\n");
    expect(cfg).toContain("set menu_color_highlight=blue/light-gray\n");
    expect(cfg).toContain("set color_normal=white/blue\n");
    const plain = renderGrubCfg({ productName: "ParticleOS", timeout: 5, extraKernelArgs: [] });
    expect(plain).not.toContain("color");
  });

  it("boots the live system without live-boot's ifupdown networking", () => {
    for (const debug of [false, true]) expect(liveKernelArgs([], debug)).toContain("nonetworking");
  });

  it("passes the medium's memory need from medium.cfg to every live entry, the profile's arguments last", () => {
    const cfg = renderGrubCfg({
      productName: "ParticleOS",
      timeout: 5,
      extraKernelArgs: ["console=ttyS1"],
    });
    expect(cfg).toContain(
      "set atomiso_toram=\nif [ -f /boot/grub/medium.cfg ]; then\n  source /boot/grub/medium.cfg\nfi\n",
    );
    const linux = cfg.split("\n").filter((l) => l.trim().startsWith("linux "));
    expect(linux).toHaveLength(3);
    for (const line of linux)
      expect(line).toMatch(/ atomiso\.toram=\$\{atomiso_toram\} (\S+ )?console=ttyS1$/);
    // The source line comes before any entry reads the variable.
    expect(cfg.indexOf("source /boot/grub/medium.cfg")).toBeLessThan(cfg.indexOf("menuentry"));
  });

  it("medium.cfg: the medium in whole MiB, the installer's memory and the reserve", () => {
    const cfg = mediumGrubCfg(624 * 1024 * 1024 + 1, 1280);
    expect(cfg).toMatch(/^set atomiso_toram=2417$/m);
    expect(cfg).toContain("the medium 625 MiB, the installer 1280 MiB");
    expect(cfg.split("\n").filter((l) => l && !l.startsWith("#"))).toHaveLength(1);
  });

  it("reads the copy's need back from the kernel arguments GRUB passes", () => {
    expect(toramNeedMiB("boot=live quiet atomiso.toram=2409 console=ttyS1")).toBe(2409);
    // GRUB without medium.cfg expands the variable to nothing; older ISOs have no argument.
    expect(toramNeedMiB("boot=live quiet atomiso.toram= console=ttyS1")).toBeUndefined();
    expect(toramNeedMiB("boot=live quiet")).toBeUndefined();
    expect(toramNeedMiB("boot=live my.atomiso.toram=5")).toBeUndefined();
  });
});

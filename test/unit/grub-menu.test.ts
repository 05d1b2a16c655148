// The ISO's GRUB menu: the branding's colours mapped onto GRUB's 16, and live-boot's
// networking left off (nonetworking: no ifupdown interfaces file for a root without one).
import { describe, expect, it } from "vitest";
import { grubColor, liveKernelArgs, renderGrubCfg } from "../../src/render/grub-cfg.js";

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
});

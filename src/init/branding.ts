// Placeholder branding for a new project: logo, icon, welcome image and two slides, drawn with
// atomiso's PNG encoder in the profile's sidebar colour so the installer looks whole at once.
import { defaultLogo, encodePng, parseHexColour, type Rgba } from "../render/png.js";

const SLIDE_W = 640;
const SLIDE_H = 360;

function mix(a: [number, number, number], b: [number, number, number], t: number): Rgba {
  return [
    Math.round(a[0] + (b[0] - a[0]) * t),
    Math.round(a[1] + (b[1] - a[1]) * t),
    Math.round(a[2] + (b[2] - a[2]) * t),
    255,
  ];
}

/** Slide 1: three stacked layers (an image built in layers, staged as one). */
function layersSlide(colour: [number, number, number]): Buffer {
  const light: [number, number, number] = [240, 244, 248];
  return encodePng(SLIDE_W, SLIDE_H, (x, y) => {
    for (let i = 0; i < 3; i++) {
      const top = 90 + i * 70;
      const inset = 40 * (2 - i);
      if (y >= top && y < top + 50 && x >= 170 + inset && x < 470 - inset)
        return mix(colour, light, 0.25 * i);
    }
    return mix(light, colour, (y / SLIDE_H) * 0.15);
  });
}

/** Slide 2: two versions side by side, the current one highlighted. */
function versionsSlide(colour: [number, number, number]): Buffer {
  const light: [number, number, number] = [240, 244, 248];
  return encodePng(SLIDE_W, SLIDE_H, (x, y) => {
    const left = Math.hypot(x - 220, y - 180) < 80;
    const right = Math.hypot(x - 420, y - 180) < 80;
    if (left) return mix(colour, light, 0.55);
    if (right) return mix(colour, light, 0);
    if (y > 176 && y < 184 && x > 300 && x < 340) return mix(colour, light, 0.3);
    return mix(light, colour, (y / SLIDE_H) * 0.15);
  });
}

export function brandingFiles(sidebarHex: string): Record<string, Buffer> {
  const colour = parseHexColour(sidebarHex);
  return {
    "logo.png": defaultLogo(128, sidebarHex),
    "icon.png": defaultLogo(64, sidebarHex),
    "welcome.png": defaultLogo(256, sidebarHex),
    "slide-atomic.png": layersSlide(colour),
    "slide-updates.png": versionsSlide(colour),
  };
}

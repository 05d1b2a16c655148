// The ISO's GRUB menu: "Install <product>", the same with a high-contrast installer, and a debug
// entry with a root shell on ttyS0. Every profile string is a GRUB word quoted by grubWord (the
// schema restricts them already).
import { renderTemplate } from "./ejs.js";
import { grubComment, grubString, grubWord } from "./escape/grub.js";

export interface GrubCfgOptions {
  productName: string;
  timeout: number;
  extraKernelArgs: string[];
  /** [live] splash: `splash` in the install entries, so Plymouth shows its theme. */
  splash?: boolean;
  /** The branding's colours ("#rrggbb"): the menu's background and text. */
  colors?: { background: string; text: string };
}

/** GRUB's text menu knows 16 colours (VGA's); a background can only be one of the first 8. */
const GRUB_PALETTE: [string, number, number, number][] = [
  ["black", 0, 0, 0],
  ["blue", 0, 0, 170],
  ["green", 0, 170, 0],
  ["cyan", 0, 170, 170],
  ["red", 170, 0, 0],
  ["magenta", 170, 0, 170],
  ["brown", 170, 85, 0],
  ["light-gray", 170, 170, 170],
  ["dark-gray", 85, 85, 85],
  ["light-blue", 85, 85, 255],
  ["light-green", 85, 255, 85],
  ["light-cyan", 85, 255, 255],
  ["light-red", 255, 85, 85],
  ["light-magenta", 255, 85, 255],
  ["yellow", 255, 255, 85],
  ["white", 255, 255, 255],
];

const BACKGROUND_HUES: [string, number][] = [
  ["red", 0],
  ["brown", 40],
  ["green", 120],
  ["cyan", 180],
  ["blue", 240],
  ["magenta", 300],
];

/**
 * The GRUB colour for "#rrggbb". Text: the nearest of the 16. Background (one of the first 8,
 * all of them dark or grey): a coloured one by its hue (#16324f is navy: blue, not the
 * nearest, black), a grey one black or light-gray by its lightness.
 */
export function grubColor(hex: string, background: boolean): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) throw new Error(`colour ${JSON.stringify(hex)} is not #rrggbb`);
  const [r, g, b] = [m[1], m[2], m[3]].map((c) => Number.parseInt(c ?? "0", 16)) as [
    number,
    number,
    number,
  ];
  if (background) {
    const max = Math.max(r, g, b);
    const min = Math.min(r, g, b);
    if (max < 0x20 || (max - min) / max < 0.25) return max < 0x80 ? "black" : "light-gray";
    const d = max - min;
    const hue =
      max === r
        ? (60 * ((g - b) / d) + 360) % 360
        : max === g
          ? 60 * ((b - r) / d) + 120
          : 60 * ((r - g) / d) + 240;
    const distance = (h: number) => Math.min(Math.abs(h - hue), 360 - Math.abs(h - hue));
    return BACKGROUND_HUES.reduce((best, c) => (distance(c[1]) < distance(best[1]) ? c : best))[0];
  }
  let best = "black";
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const [name, ...c] of GRUB_PALETTE) {
    const d = (c[0] - r) ** 2 + (c[1] - g) ** 2 + (c[2] - b) ** 2;
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return best;
}

/** GRUB's menu colours from the branding's: text on background, the highlight inverted. */
function grubMenuColors(colors: { background: string; text: string }) {
  const background = grubColor(colors.background, true);
  const text = grubColor(colors.text, false);
  // The highlight's background is the text colour, which must be one of the first 8.
  const highlightBackground = grubColor(colors.text, true);
  const highlightText = background === highlightBackground ? "white" : background;
  return { normal: `${text}/${background}`, highlight: `${highlightText}/${highlightBackground}` };
}

/**
 * Kernel arguments of the live system. The serial console comes first so tty0 stays
 * /dev/console. nonetworking: live-boot's initramfs would write an ifupdown
 * /etc/network/interfaces (the live root has no /etc/network: NetworkManager configures the
 * network, see live-session.ts) after another udev trigger and settle; it is for net-booted
 * roots, which a live ISO is not.
 */
export function liveKernelArgs(extra: readonly string[], debug: boolean, splash = false): string[] {
  const base = ["boot=live", "nonetworking", "console=ttyS0,115200", "console=tty0"];
  if (debug) return [...base, "systemd.debug_shell=ttyS0", "systemd.log_level=info", ...extra];
  // Without `splash` Plymouth would show its text mode (the debug entry keeps the console); with
  // a serial console on the command line it would too, unless told to leave serial consoles be.
  const splashArgs = splash ? ["splash", "plymouth.ignore-serial-consoles"] : [];
  return [...base, "quiet", ...splashArgs, ...extra];
}

/** Read by the installer session: Calamares with a high-contrast palette (live-session.ts). */
export const HIGH_CONTRAST_ARG = "atomiso.contrast=high";

/**
 * The GRUB variable that /boot/grub/medium.cfg sets when the ISO is packed (stages/iso.ts):
 * the medium's size plus the installer's memory, in MiB. The live initrd copies the medium to
 * memory in a virtual machine with at least that much (installer-scripts/initramfs/toram-in-vm).
 */
export const TORAM_GRUB_VARIABLE = "atomiso_toram";
/** The kernel argument that carries it (read by the initrd's toram-in-vm). */
const TORAM_KERNEL_ARG = "atomiso.toram";
/** GRUB expands the variable (empty when medium.cfg is missing, which the initrd ignores). */
const TORAM_ARG = `${TORAM_KERNEL_ARG}=\${${TORAM_GRUB_VARIABLE}}`;

/** The memory a copy of the medium needs, from kernel arguments as GRUB passes them. */
export function toramNeedMiB(kernelArgs: string): number | undefined {
  const prefix = `${TORAM_KERNEL_ARG}=`;
  const value = kernelArgs
    .split(/\s+/)
    .find((a) => a.startsWith(prefix))
    ?.slice(prefix.length);
  return value && /^\d+$/.test(value) ? Number(value) : undefined;
}

/** The kernel arguments as a GRUB `linux` line's words: the profile's stay last. */
function grubKernelArgs(extra: readonly string[], debug: boolean, splash = false): string {
  return [
    ...liveKernelArgs([], debug, splash).map(grubWord),
    TORAM_ARG,
    ...extra.map(grubWord),
  ].join(" ");
}

export function renderGrubCfg(o: GrubCfgOptions): string {
  if (!Number.isInteger(o.timeout) || o.timeout < 0) throw new Error("bad GRUB timeout");
  return renderTemplate("src/render/templates/grub.cfg.ejs", {
    comment: grubComment(o.productName),
    timeout: o.timeout,
    colors: o.colors ? grubMenuColors(o.colors) : undefined,
    installTitle: grubString(`Install ${o.productName}`),
    debugTitle: grubString(`Install ${o.productName} (debug: root shell on serial console)`),
    loading: grubString(`Loading ${o.productName} installer...`),
    installArgs: grubKernelArgs(o.extraKernelArgs, false, o.splash),
    highContrastTitle: grubString(`Install ${o.productName} (high contrast)`),
    // Before the profile's arguments, which stay last (as in the other entries).
    highContrastArgs: grubKernelArgs([HIGH_CONTRAST_ARG, ...o.extraKernelArgs], false, o.splash),
    debugArgs: grubKernelArgs(o.extraKernelArgs, true),
    toramVariable: TORAM_GRUB_VARIABLE,
  });
}

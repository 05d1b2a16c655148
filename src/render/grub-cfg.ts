// The ISO's GRUB menu: "Install <product>" and a debug entry with a root shell on ttyS0.
import { renderTemplate } from "./ejs.js";

export interface GrubCfgOptions {
  productName: string;
  timeout: number;
  extraKernelArgs: string[];
}

/** Kernel arguments of the live system. The serial console comes first so tty0 stays /dev/console. */
export function liveKernelArgs(extra: readonly string[], debug: boolean): string[] {
  const base = ["boot=live", "console=ttyS0,115200", "console=tty0"];
  if (debug) return [...base, "systemd.debug_shell=ttyS0", "systemd.log_level=info", ...extra];
  return [...base, "quiet", ...extra];
}

export function renderGrubCfg(o: GrubCfgOptions): string {
  return renderTemplate("src/render/templates/grub.cfg.ejs", {
    productName: o.productName.replace(/["\\$]/g, ""),
    timeout: o.timeout,
    installArgs: liveKernelArgs(o.extraKernelArgs, false).join(" "),
    debugArgs: liveKernelArgs(o.extraKernelArgs, true).join(" "),
  });
}

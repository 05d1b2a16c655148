// ejs for non-data text (grub.cfg, QML, desktop entries). Strict mode: a template that uses a
// variable it was not given throws instead of printing "undefined".
import { readFileSync } from "node:fs";
import ejs from "ejs";
import { packageRoot } from "../paths.js";
import { refuseControl } from "./escape/control.js";

const cache = new Map<string, string>();

/** Renders a template by path relative to the package root (e.g. "src/render/templates/grub.cfg.ejs"). */
export function renderTemplate(template: string, data: Record<string, unknown>): string {
  let text = cache.get(template);
  if (text === undefined) {
    text = readFileSync(`${packageRoot}${template}`, "utf8");
    cache.set(template, text);
  }
  return ejs.render(text, data, {
    strict: true,
    localsName: "it",
    // Values arrive escaped for the template's language (src/render/escape/); printing one
    // that still holds a line break or other control character is a bug, never output.
    escape: (s: unknown) => refuseControl(String(s), template),
  });
}

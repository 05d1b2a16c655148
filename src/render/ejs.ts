// ejs for non-data text (grub.cfg, QML, desktop entries). Strict mode: a template that uses a
// variable it was not given throws instead of printing "undefined".
import { readFileSync } from "node:fs";
import ejs from "ejs";
import { packageRoot } from "../paths.js";

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
    escape: (s: unknown) => String(s),
  });
}

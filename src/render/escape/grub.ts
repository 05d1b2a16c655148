// GRUB script (grub.cfg) quoting, as GRUB's lexer reads it: inside double quotes a backslash
// escapes $, " and \ (everything else is literal, and $ would expand a variable).
import { refuseControl } from "./control.js";

/** A double-quoted GRUB string that reads back as `value`. */
export function grubString(value: string): string {
  refuseControl(value, "grub.cfg");
  return `"${value.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

/** One GRUB word that reads back as `value`: plain words stay unquoted. */
export function grubWord(value: string): string {
  refuseControl(value, "grub.cfg");
  return /^[A-Za-z0-9_.,:/@+=%~-]+$/.test(value) ? value : grubString(value);
}

/** Text after `#` on a comment line: anything but a line break. */
export function grubComment(value: string): string {
  return refuseControl(value, "grub.cfg");
}

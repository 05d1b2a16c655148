// Values of type string in a Desktop Entry file (freedesktop Desktop Entry Specification,
// "Possible value types"): \s, \n, \t, \r and \\ are the escapes; a line break ends the value.
import { refuseControl } from "./control.js";

export function desktopEntryValue(value: string): string {
  refuseControl(value, "desktop entry");
  return value.replace(/\\/g, "\\\\").replace(/^ /, "\\s");
}

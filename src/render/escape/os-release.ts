// os-release(5): values in double quotes, with the shell's special characters ($ " \ `)
// escaped by a backslash, so that both shell sourcing and the os-release parsers read the
// same text. Non-printable characters must not be used (refused).
import { refuseControl } from "./control.js";

export function osReleaseValue(value: string): string {
  refuseControl(value, "os-release");
  return `"${value.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`;
}

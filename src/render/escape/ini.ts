// Values of plain INI-style files (systemd units, SDDM's QSettings files) that atomiso writes
// without quoting: the value runs to the end of the line, so it must be one line, and it must
// not start or end with blanks (both formats trim them) or end with a backslash (systemd reads
// that as a continuation line).
import { refuseControl, UnsafeTextError } from "./control.js";

export function iniValue(value: string): string {
  refuseControl(value, "INI file");
  if (/^\s|\s$|\\$/.test(value))
    throw new UnsafeTextError(`INI file: cannot carry ${JSON.stringify(value)} unquoted`);
  return value;
}

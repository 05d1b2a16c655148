// What no generated file may carry: C0/C1 control characters (NUL, newline, ESC, ...) and the
// Unicode line/paragraph separators some parsers treat as line ends. The schema refuses them;
// each escaper refuses them again, so a renderer fed by other code cannot be tricked either.
export const CONTROL = /[\p{Cc}\u2028\u2029]/u;

export class UnsafeTextError extends Error {}

export function refuseControl(value: string, language: string): string {
  const m = CONTROL.exec(value);
  if (m) {
    const code = m[0].codePointAt(0)?.toString(16).padStart(4, "0");
    throw new UnsafeTextError(`${language}: cannot carry the control character U+${code}`);
  }
  return value;
}

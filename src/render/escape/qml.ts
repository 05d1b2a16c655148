// QML/JavaScript string literals. JSON's string syntax is a subset of JavaScript's, except that
// older engines end a line at U+2028/U+2029, so those are escaped too (refused anyway).
import { refuseControl } from "./control.js";

/** A double-quoted JS/QML string literal that evaluates to `value`. */
export function qmlString(value: string): string {
  refuseControl(value, "QML");
  return JSON.stringify(value)
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

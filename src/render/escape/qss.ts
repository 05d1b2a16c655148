// Qt stylesheets (QSS, CSS syntax): text inside a /* comment */ must not end it early.
import { refuseControl } from "./control.js";

export function qssComment(value: string): string {
  refuseControl(value, "stylesheet");
  // "*/" would close the comment: keep the characters, break the sequence.
  return value.replace(/\*\//g, "* /").replace(/\/\*/g, "/ *");
}

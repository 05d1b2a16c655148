// Keyboard input for QEMU guests through QMP send-key: text becomes qcodes on a US layout (shift
// for upper case and symbols), and combos like "alt-n" or "shift-tab" become chords. Keys go one
// at a time with a pause in between, because a TCG guest that is busy (e.g. redrawing a Qt
// page) drops or reorders key events that come too fast.
import { AtomisoError } from "../errors.js";

/** What the key helpers need from a QMP client (QmpClient has it). */
export interface KeySender {
  sendKey(keys: readonly string[], holdTimeMs?: number): Promise<void>;
}

export interface KeyOptions {
  /** How long each chord is held down (default 60 ms). */
  holdMs?: number;
  /**
   * Pause after each chord is released (default 150 ms). Measured under TCG with Calamares'
   * Qt line edits: 150 ms typed every character of long strings correctly, while with no pause
   * characters were lost.
   */
  gapMs?: number;
}

export const DEFAULT_KEY_HOLD_MS = 60;
export const DEFAULT_KEY_GAP_MS = 150;

/** Characters typed without shift on a US keyboard, by qcode. */
const PLAIN: Record<string, string> = {
  " ": "spc",
  "-": "minus",
  "=": "equal",
  "[": "bracket_left",
  "]": "bracket_right",
  "\\": "backslash",
  ";": "semicolon",
  "'": "apostrophe",
  "`": "grave_accent",
  ",": "comma",
  ".": "dot",
  "/": "slash",
  "\n": "ret",
  "\t": "tab",
};

/** Characters typed with shift on a US keyboard, by the qcode of their key. */
const SHIFTED: Record<string, string> = {
  "!": "1",
  "@": "2",
  "#": "3",
  $: "4",
  "%": "5",
  "^": "6",
  "&": "7",
  "*": "8",
  "(": "9",
  ")": "0",
  _: "minus",
  "+": "equal",
  "{": "bracket_left",
  "}": "bracket_right",
  "|": "backslash",
  ":": "semicolon",
  '"': "apostrophe",
  "~": "grave_accent",
  "<": "comma",
  ">": "dot",
  "?": "slash",
};

/** Friendlier names accepted in combos, mapped to QEMU qcodes. */
const ALIASES: Record<string, string> = {
  enter: "ret",
  return: "ret",
  space: "spc",
  escape: "esc",
  del: "delete",
  bksp: "backspace",
  pageup: "pgup",
  pagedown: "pgdn",
  control: "ctrl",
  altgr: "alt_r",
  super: "meta_l",
  win: "meta_l",
  meta: "meta_l",
};

/** The chord (qcodes pressed together) that types one character on a US layout. */
export function charToKeys(ch: string): string[] {
  if (/^[a-z0-9]$/.test(ch)) return [ch];
  if (/^[A-Z]$/.test(ch)) return ["shift", ch.toLowerCase()];
  const plain = PLAIN[ch];
  if (plain !== undefined) return [plain];
  const shifted = SHIFTED[ch];
  if (shifted !== undefined) return ["shift", shifted];
  throw new AtomisoError(
    "usage",
    `cannot type ${JSON.stringify(ch)} with QEMU send-key on a US keyboard layout`,
    "use only ASCII letters, digits, space and US-keyboard punctuation in typed text",
  );
}

/** One chord per character of `text`. */
export function textToKeys(text: string): string[][] {
  return [...text].map(charToKeys);
}

/**
 * Parses combos such as "alt-n", "shift-tab", "ctrl-alt-delete", "ret": keys joined by "-"
 * (qcodes never contain "-"; the minus key is "minus"), several combos separated by spaces.
 */
export function parseCombos(combos: string | readonly string[]): string[][] {
  const list = typeof combos === "string" ? combos.trim().split(/\s+/) : combos;
  return list
    .filter((c) => c !== "")
    .map((combo) => {
      const keys = combo.split("-").map((k) => k.trim().toLowerCase());
      if (keys.some((k) => k === "")) {
        throw new AtomisoError(
          "usage",
          `the key combo ${JSON.stringify(combo)} has an empty key name`,
          'join key names with "-", e.g. "alt-n"; the minus key itself is "minus"',
        );
      }
      return keys.map((k) => ALIASES[k] ?? k);
    });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sendChords(
  qmp: KeySender,
  chords: readonly (readonly string[])[],
  options: KeyOptions,
): Promise<void> {
  const hold = options.holdMs ?? DEFAULT_KEY_HOLD_MS;
  const gap = options.gapMs ?? DEFAULT_KEY_GAP_MS;
  for (const chord of chords) {
    // send-key returns once the events are queued, before the release: wait out the hold too.
    await qmp.sendKey(chord, hold);
    await sleep(hold + gap);
  }
}

/** Types `text` into whatever has the keyboard focus in the guest (US layout). */
export async function typeText(
  qmp: KeySender,
  text: string,
  options: KeyOptions = {},
): Promise<void> {
  await sendChords(qmp, textToKeys(text), options);
}

/** Presses key combos one after another, e.g. "alt-n", "tab tab ret" or ["shift-tab", "spc"]. */
export async function pressKeys(
  qmp: KeySender,
  combos: string | readonly string[],
  options: KeyOptions = {},
): Promise<void> {
  await sendChords(qmp, parseCombos(combos), options);
}

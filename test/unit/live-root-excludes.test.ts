// What dpkg leaves out of the live root (libexec/live-root-excludes), read with dpkg's rule:
// each path is matched against every pattern with fnmatch(3) without flags (so `*` also
// matches `/`), and the last matching line decides. The paths below are real ones from a
// trixie live root with [live] accessibility: what the screen reader and the installer need
// stays, what the file says it leaves out goes.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { libexecDir } from "../../src/paths.js";

const text = readFileSync(join(libexecDir, "live-root-excludes"), "utf8");
const rules = text
  .split("\n")
  .map((line) => /^path-(exclude|include)=(.+)$/.exec(line))
  .filter((m) => m !== null)
  .map((m) => ({ kind: m[1], re: globToRegExp(m[2] ?? "") }));

function globToRegExp(glob: string): RegExp {
  const body = [...glob]
    .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${body}$`);
}

function excluded(path: string): boolean {
  let verdict: string | undefined;
  for (const r of rules) if (r.re.test(path)) verdict = r.kind;
  return verdict === "exclude";
}

const espeak = "/usr/lib/x86_64-linux-gnu/espeak-ng-data";
const gst = "/usr/lib/x86_64-linux-gnu/gstreamer-1.0";
const lib = "/usr/lib/x86_64-linux-gnu";

/** eSpeak NG's dictionary for each language Calamares offers a translation in (trixie's 3.3). */
// biome-ignore format: one short code each
const OFFERED_DICTIONARIES = [
  "ar", "as", "az", "be", "bg", "bn", "ca", "cs", "da", "de", "el", "en", "eo", "es", "et",
  "eu", "fa", "fi", "fr", "he", "hi", "hr", "hu", "id", "is", "it", "ja", "ka", "ko", "lt",
  "ml", "mr", "no", "nl", "pl", "pt", "ro", "ru", "si", "sk", "sl", "sq", "sr", "sv", "th",
  "tr", "uk", "vi", "cmn",
];

describe("live root excludes", () => {
  it("gives every exclude a comment saying why", () => {
    const lines = text.split("\n");
    lines.forEach((line, i) => {
      if (!line.startsWith("path-")) return;
      // Walk up over the block of pattern lines to the comment above it.
      let j = i;
      while (j > 0 && lines[j - 1]?.startsWith("path-")) j--;
      expect(lines[j - 1], `no comment above line ${i + 1}: ${line}`).toMatch(/^# /);
    });
    expect(rules.length).toBeGreaterThan(50);
  });

  it("keeps the copyright files, Calamares' messages and what the session runs", () => {
    for (const path of [
      "/usr/share/doc/orca/copyright",
      "/usr/share/locale/de/LC_MESSAGES/calamares-python.mo",
      "/usr/share/locale/locale.alias",
      "/usr/bin/orca",
      "/usr/bin/calamares",
      `${lib}/libQt6Gui.so.6.8.2`,
      `${lib}/libEGL_mesa.so.0.0.0`,
    ])
      expect(excluded(path), path).toBe(false);
    for (const path of [
      "/usr/share/doc/orca/NEWS.gz",
      "/usr/share/man/man1/orca.1.gz",
      "/usr/share/locale/de/LC_MESSAGES/orca.mo",
      `${lib}/libLLVM.so.19.1`,
      "/usr/share/consolefonts/Lat15-Fixed16.psf.gz",
    ])
      expect(excluded(path), path).toBe(true);
  });

  it("keeps speech: the eSpeak NG module, its engine data and every offered language", () => {
    for (const path of [
      "/usr/lib/speech-dispatcher-modules/sd_espeak-ng",
      "/etc/speech-dispatcher/modules/espeak-ng.conf",
      "/usr/share/speech-dispatcher/locale/en/symbols.dic",
      "/usr/share/speech-dispatcher/locale/base/orca.dic",
      "/usr/share/speech-dispatcher/locale/de/orca-chars.dic",
      `${lib}/libespeak-ng.so.1.1.51`,
      `${espeak}/phondata`,
      `${espeak}/phontab`,
      `${espeak}/phonindex`,
      `${espeak}/intonations`,
      `${espeak}/lang/gmw/en`,
      `${espeak}/lang/gmw/en-US`,
      `${espeak}/lang/zle/ru`,
      `${espeak}/lang/sit/cmn`,
      `${espeak}/lang/gmq/nb`,
      ...OFFERED_DICTIONARIES.map((code) => `${espeak}/${code}_dict`),
    ])
      expect(excluded(path), path).toBe(false);
  });

  it("leaves out emoji names, braille tables and the big dictionaries nobody can choose", () => {
    for (const path of [
      "/usr/share/speech-dispatcher/locale/en/emojis.dic",
      "/usr/share/speech-dispatcher/locale/pt_BR/emojis.dic",
      "/usr/share/liblouis/tables/en-us-g2.ctb",
      "/usr/share/liblouis/tables/de-g1.ctb",
      `${espeak}/fo_dict`,
      `${espeak}/lang/gmq/fo`,
      `${espeak}/yue_dict`,
      `${espeak}/lang/sit/yue`,
      `${espeak}/lang/sit/yue-Latn-jyutping`,
      `${espeak}/lb_dict`,
    ])
      expect(excluded(path), path).toBe(true);
    // The voice and its dictionary go together: no voice listed that cannot load.
    for (const [dict, voice] of [
      ["fo", "gmq/fo"],
      ["lb", "gmw/lb"],
      ["ia", "art/ia"],
      ["af", "gmw/af"],
      ["ur", "inc/ur"],
      ["ta", "dra/ta"],
    ])
      expect(excluded(`${espeak}/${dict}_dict`)).toBe(excluded(`${espeak}/lang/${voice}`));
  });

  it("keeps the GStreamer elements Orca's sounds use, and sndfile's codecs", () => {
    for (const plugin of [
      "coreelements",
      "playback",
      "typefindfunctions",
      "audiotestsrc",
      "autodetect",
      "pulseaudio",
      "wavparse",
      "audioconvert",
      "audioresample",
      "volume",
    ])
      expect(excluded(`${gst}/libgst${plugin}.so`), plugin).toBe(false);
    // speech-dispatcher reads sound files through libsndfile, which links these.
    for (const soname of [
      "libFLAC.so.14",
      "libopus.so.0",
      "libmpg123.so.0",
      "libmp3lame.so.0",
      "libvorbisenc.so.2",
      "libogg.so.0",
    ])
      expect(excluded(`${lib}/${soname}`), soname).toBe(false);
  });

  it("leaves out video and streaming plugins with the libraries only they link", () => {
    for (const path of [
      `${gst}/libgstvideo4linux2.so`,
      `${gst}/libgstvideoconvertscale.so`,
      `${gst}/libgstvpx.so`,
      `${gst}/libgstrtpmanager.so`,
      `${gst}/libgstisomp4.so`,
      `${lib}/libvpx.so.9.1.0`,
      `${lib}/libv4l/plugins/libv4l-mplane.so`,
      `${lib}/libcaca.so.0.99.20`,
      `${lib}/caca/libx11_plugin.so.0.0.0`,
      `${lib}/libsoup-3.0.so.0.7.4`,
    ])
      expect(excluded(path), path).toBe(true);
  });
});

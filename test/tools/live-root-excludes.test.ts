// The customize hook (libexec/mmdebstrap-customize) applies libexec/live-root-excludes to the
// files dpkg lists, as dpkg itself does for every package after the setup hook: run on a small
// fake root whose package lists name real paths of a trixie live root with the screen reader.
// (test/tools/mmdebstrap.test.ts runs both hooks inside a real mmdebstrap.)
import { copyFile, mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { libexecDir } from "../../src/paths.js";
import { run } from "../../src/tools/exec.js";

const PACKAGES: Record<string, string[]> = {
  "speech-dispatcher": [
    "/usr/share/speech-dispatcher/locale/en/emojis.dic",
    "/usr/share/speech-dispatcher/locale/en/symbols.dic",
    "/usr/share/speech-dispatcher/locale/base/orca.dic",
    "/usr/share/doc/speech-dispatcher/copyright",
    "/usr/share/doc/speech-dispatcher/changelog.gz",
  ],
  "espeak-ng-data": [
    "/usr/lib/x86_64-linux-gnu/espeak-ng-data/en_dict",
    "/usr/lib/x86_64-linux-gnu/espeak-ng-data/ru_dict",
    "/usr/lib/x86_64-linux-gnu/espeak-ng-data/fo_dict",
    "/usr/lib/x86_64-linux-gnu/espeak-ng-data/lang/gmq/fo",
    "/usr/lib/x86_64-linux-gnu/espeak-ng-data/lang/sit/yue-Latn-jyutping",
    "/usr/lib/x86_64-linux-gnu/espeak-ng-data/lang/gmw/en",
    "/usr/lib/x86_64-linux-gnu/espeak-ng-data/phondata",
  ],
  "liblouis-data": ["/usr/share/liblouis/tables/en-us-g2.ctb"],
  "gstreamer1.0-plugins-good": [
    "/usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstautodetect.so",
    "/usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstwavparse.so",
    "/usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstvpx.so",
    "/usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstrtpmanager.so",
  ],
  "libv4l-0t64": ["/usr/lib/x86_64-linux-gnu/libv4l/plugins/libv4l-mplane.so"],
  libsndfile1: ["/usr/lib/x86_64-linux-gnu/libsndfile.so.1.0.37"],
};

describe("the customize hook applies the live root excludes", async () => {
  const work = await mkdtemp(join(tmpdir(), "atomiso-excludes-"));
  afterAll(() => safeRemove(work));
  const root = join(work, "root");
  const info = join(root, "var/lib/dpkg/info");
  await mkdir(info, { recursive: true });
  await mkdir(join(root, "tmp"), { recursive: true });
  await mkdir(join(root, "etc/dpkg/dpkg.cfg.d"), { recursive: true });
  await copyFile(
    join(libexecDir, "live-root-excludes"),
    join(root, "etc/dpkg/dpkg.cfg.d/90-atomiso-live-excludes"),
  );
  for (const [pkg, paths] of Object.entries(PACKAGES)) {
    await writeFile(join(info, `${pkg}:amd64.list`), `${paths.join("\n")}\n`);
    for (const p of paths) {
      await mkdir(dirname(join(root, p)), { recursive: true });
      await writeFile(join(root, p), `${p}\n`.repeat(100));
    }
  }

  it("removes what the excludes name, keeps the rest, and reports the sizes", async () => {
    const lines: string[] = [];
    await run([join(libexecDir, "mmdebstrap-customize"), root], {
      env: { ATOMISO_APT_CACHE: undefined },
      onLine: (l) => lines.push(l),
    });
    const left = (await readdir(join(root, "usr"), { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(root.length))
      .sort();
    expect(left).toEqual([
      "/usr/lib/x86_64-linux-gnu/espeak-ng-data/en_dict",
      "/usr/lib/x86_64-linux-gnu/espeak-ng-data/lang/gmw/en",
      "/usr/lib/x86_64-linux-gnu/espeak-ng-data/phondata",
      "/usr/lib/x86_64-linux-gnu/espeak-ng-data/ru_dict",
      "/usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstautodetect.so",
      "/usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstwavparse.so",
      "/usr/lib/x86_64-linux-gnu/libsndfile.so.1.0.37",
      "/usr/share/doc/speech-dispatcher/copyright",
      "/usr/share/speech-dispatcher/locale/base/orca.dic",
      "/usr/share/speech-dispatcher/locale/en/symbols.dic",
    ]);
    expect(lines).toContain("atomiso: live root: 6 packages, 0 MiB in their files");
    expect(lines).toContainEqual(
      expect.stringMatching(/^atomiso: live root: +0\.0 MiB espeak-ng-data$/),
    );
  });
});

// Real mmdebstrap with atomiso's hooks on a tiny input (the Essential set of trixie and eSpeak
// NG): the first run fills the package cache, the second downloads nothing. The first root also
// shows dpkg's excludes (libexec/live-root-excludes) and the package size report, and that
// eSpeak NG still speaks the installer's languages with the dictionaries the excludes leave.
import { access, mkdtemp, readdir, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { libexecDir } from "../../src/paths.js";
import { run } from "../../src/tools/exec.js";
import { mmdebstrapArgv } from "../../src/tools/mmdebstrap.js";
import { inPrivateMountNamespace } from "../../src/tools/namespace.js";

describe("mmdebstrap with the package-cache hooks", async () => {
  const work = await mkdtemp(join(tmpdir(), "atomiso-mmdebstrap-"));
  const cache = join(work, "apt");
  afterAll(() => safeRemove(work));

  const bootstrap = async (target: string) => {
    const lines: string[] = [];
    await run(
      inPrivateMountNamespace(
        mmdebstrapArgv({
          suite: "trixie",
          mirror: "http://deb.debian.org/debian",
          components: ["main"],
          // The screen reader's voice, with its command-line front end to try it.
          packages: ["espeak-ng"],
          extraSources: [],
          arch: "amd64",
          variant: "essential",
          setupHooks: [join(libexecDir, "mmdebstrap-setup")],
          customizeHooks: [join(libexecDir, "mmdebstrap-customize")],
          target: join(work, target),
        }),
      ),
      { env: { ATOMISO_APT_CACHE: cache }, onLine: (l) => lines.push(l) },
    );
    return lines;
  };

  let firstLines: string[] = [];
  it("fills the cache on the first run", async () => {
    const lines = await bootstrap("root1");
    firstLines = lines;
    const saved = lines.find((l) => l.startsWith("atomiso: package cache:"));
    expect(saved).toMatch(/: [1-9]\d* new package/);
    expect((await readdir(cache)).filter((f) => f.endsWith(".deb")).length).toBeGreaterThan(20);
    expect(await readdir(join(work, "root1", "usr", "bin"))).toContain("bash");
  });

  it("leaves out documentation, man pages and foreign messages, keeps copyright files", async () => {
    const root = join(work, "root1");
    const files = async (dir: string) =>
      (await readdir(join(root, dir), { recursive: true, withFileTypes: true }))
        .filter((e) => e.isFile())
        .map((e) => join(e.parentPath, e.name).slice(root.length));
    const docs = await files("usr/share/doc");
    expect(docs).toContain("/usr/share/doc/coreutils/copyright");
    expect(docs.filter((f) => !f.endsWith("/copyright"))).toEqual([]);
    expect(await files("usr/share/man")).toEqual([]);
    expect(
      (await files("usr/share/locale")).filter((f) => f !== "/usr/share/locale/locale.alias"),
    ).toEqual([]);
    await access(join(root, "etc/dpkg/dpkg.cfg.d/90-atomiso-live-excludes"));
    expect(firstLines).toContainEqual(
      expect.stringMatching(/^atomiso: live root: \d+ packages, \d+ MiB/),
    );
    expect(firstLines).toContainEqual(
      expect.stringMatching(/^atomiso: live root: +[\d.]+ MiB \S+$/),
    );
  });

  it("speaks every language the installer offers, and no voice whose dictionary is left out", async () => {
    const root = join(work, "root1");
    // espeak-ng writes the speech as a WAV file (inside the root) and fails for an unknown voice.
    const say = (voice: string) =>
      run(["chroot", root, "espeak-ng", "-v", voice, "-w", `/tmp/${voice}.wav`, "1 2 3"], {
        okExitCodes: [0, 1],
      });
    // A few of Calamares' languages, among them the biggest dictionary (Russian) and Mandarin.
    for (const voice of ["en", "en-US", "de", "ru", "cmn", "nb", "pt-BR", "ar", "ja"]) {
      expect((await say(voice)).exitCode, voice).toBe(0);
      expect((await stat(join(root, "tmp", `${voice}.wav`))).size, voice).toBeGreaterThan(10_000);
    }
    const espeak = join(root, "usr/lib/x86_64-linux-gnu/espeak-ng-data");
    const left = await readdir(espeak);
    expect(left).toEqual(expect.arrayContaining(["en_dict", "ru_dict", "cmn_dict", "phondata"]));
    for (const voice of ["fo", "yue", "lb"]) {
      expect(left, voice).not.toContain(`${voice}_dict`);
      expect((await say(voice)).exitCode, voice).not.toBe(0);
    }
  });

  it("downloads nothing on the second run", async () => {
    const before = (await readdir(cache)).length;
    const lines = await bootstrap("root2");
    expect(lines).toContain("atomiso: package cache: 0 new package(s) saved");
    expect((await readdir(cache)).length).toBe(before);
  });
});

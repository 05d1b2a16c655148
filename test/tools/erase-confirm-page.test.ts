// The erase confirmation page (erase-confirm.qml and erase-check.js as rendered into the
// branding folder) run by Qt's own QML runtime (Debian's qml-qt6, off screen): the page reads
// the lsblk file with XMLHttpRequest as in the live system (QML_XHR_ALLOW_FILE_READ), decides
// in onActivate, and either shows what Erase would delete (its texts, and OCR of a picture of
// it) or passes itself over in the direction the user came (next or back).
// Calamares' QML singletons are stand-ins here: Global returns the GlobalStorage values the
// partition module sets (partitionChoices, osproberLines), ViewManager records next()/back()
// and has the currentStepIndex and currentStepChanged of the real one (ViewManager.h); the
// driver calls them in the order ViewManager::next and ::back do (index set, onActivate, then
// the signal). Changed in the rendered page: only the disk file's URL, to a temp file.
// The real Calamares (3.3.14, Qt 6.8) runs the page in the boot tier's uefi walk; this host
// has Qt 6.4 (bookworm).
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { calamaresOptionsFor } from "../../src/config/calamares-options.js";
import { loadConfig } from "../../src/config/load.js";
import { ocr } from "../../src/qemu/ocr.js";
import { DISKS_FILE, renderCalamares } from "../../src/render/calamares/render.js";
import { run } from "../../src/tools/exec.js";
import { blank, cdrom, laptop, WINDOWS } from "../support/disk-list-fixtures.js";

const QML = "/usr/lib/qt6/bin/qml";
const blankDisk = blank("/dev/vda");

interface Scenario {
  install: string;
  osprober: string[];
  /** lsblk --json's blockdevices, or undefined for a missing file. */
  disks?: unknown[];
  /** The step the user comes from: 3 the partition page, 5 the page after this one. */
  from: number;
}
interface PageRun {
  /** "next", "back" or undefined: what the page told the ViewManager to do. */
  step: string | undefined;
  /** The page's visible texts. */
  texts: string[];
  png: string;
}

const stub = (module: string, name: string, body: string) => ({
  qmldir: `module ${module}\nsingleton ${name} 1.0 ${name}.qml\n`,
  qml: `pragma Singleton\nimport QtQml 2.15\nQtObject {\n${body}\n}\n`,
});

describe("the erase confirmation page (Qt's qml runtime)", async () => {
  const work = await mkdtemp(join(tmpdir(), "atomiso-erase-page-"));
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });
  const loaded = await loadConfig(
    join(import.meta.dirname, "../../examples/particleos/atomiso.toml"),
  );
  const files = await renderCalamares(calamaresOptionsFor(loaded.config, loaded.dir));
  const page = (name: string) =>
    String(files.find((f) => f.path === `etc/calamares/branding/particleos/${name}`)?.content);
  const disksUrl = `"file://${DISKS_FILE}"`;
  const qml = page("erase-confirm.qml");
  expect(qml.split(disksUrl).length, "the disk file's URL, once").toBe(2);

  let runs = 0;
  async function runPage(s: Scenario): Promise<PageRun> {
    const dir = join(work, `run-${++runs}`);
    const disks = join(dir, "disks.json");
    await mkdir(join(dir, "imports/io/calamares/core"), { recursive: true });
    await mkdir(join(dir, "imports/io/calamares/ui"), { recursive: true });
    await writeFile(join(dir, "erase-confirm.qml"), qml.replace(disksUrl, `"file://${disks}"`));
    await writeFile(join(dir, "erase-check.js"), page("erase-check.js"));
    if (s.disks) await writeFile(disks, JSON.stringify({ blockdevices: s.disks }));
    const store = {
      partitionChoices: { install: s.install, swap: "none" },
      osproberLines: s.osprober,
    };
    const global = stub(
      "io.calamares.core",
      "Global",
      `    property var store: (${JSON.stringify(store)})\n    function value(key) { return store[key]; }`,
    );
    const viewManager = stub(
      "io.calamares.ui",
      "ViewManager",
      [
        "    property int currentStepIndex: 0",
        "    signal currentStepChanged()",
        '    function next() { console.log("STEP next"); }',
        '    function back() { console.log("STEP back"); }',
      ].join("\n"),
    );
    for (const [sub, s2, name] of [
      ["core", global, "Global"],
      ["ui", viewManager, "ViewManager"],
    ] as const) {
      await writeFile(join(dir, `imports/io/calamares/${sub}/qmldir`), s2.qmldir);
      await writeFile(join(dir, `imports/io/calamares/${sub}/${name}.qml`), s2.qml);
    }
    const png = join(dir, "page.png");
    await writeFile(
      join(dir, "driver.qml"),
      `import QtQuick 2.15
import io.calamares.ui 1.0
Item {
    width: 760; height: 480
    Loader { id: loader; anchors.fill: parent; source: "erase-confirm.qml" }
    function texts(item, out) {
        if (!item.visible) return out;
        if (item.text !== undefined && item.font !== undefined && item.text !== "") out.push(item.text);
        for (let i = 0; i < item.children.length; i++) texts(item.children[i], out);
        return out;
    }
    // The disk file is read when the page is created (Calamares' start); the user comes later.
    Timer { interval: 1000; running: true; onTriggered: {
        ViewManager.currentStepIndex = ${s.from}; ViewManager.currentStepChanged();
        ViewManager.currentStepIndex = 4;
        loader.item.onActivate();
        ViewManager.currentStepChanged();
        done.start();
    } }
    Timer { id: done; interval: 500; onTriggered: {
        console.log("TEXTS " + JSON.stringify(texts(loader.item, [])));
        loader.item.grabToImage(function (r) { r.saveToFile(${JSON.stringify(png)}); Qt.quit(); });
    } }
}
`,
    );
    const result = await run([QML, join(dir, "driver.qml")], {
      cwd: dir,
      timeoutMs: 60_000,
      env: {
        QT_QPA_PLATFORM: "offscreen",
        QT_QUICK_BACKEND: "software",
        QML_XHR_ALLOW_FILE_READ: "1",
        QML_IMPORT_PATH: join(dir, "imports"),
        XDG_RUNTIME_DIR: work,
      },
    });
    const output = `${result.stdout}\n${result.stderr}`;
    const texts = /TEXTS (.*)$/m.exec(output)?.[1];
    if (texts === undefined) throw new Error(`the page did not run:\n${output}`);
    // Nothing the page does may warn (a QML error, a refused file read).
    expect(output.split("\n").filter((l) => /warn|error|refus|disabled/i.test(l))).toEqual([]);
    return {
      step: /STEP (next|back)/.exec(output)?.[1],
      texts: JSON.parse(texts) as string[],
      png,
    };
  }

  it("names Windows and the NTFS partition, and stays, when Erase is chosen beside Windows", async () => {
    const r = await runPage({
      install: "erase",
      osprober: [WINDOWS],
      disks: [cdrom, laptop],
      from: 3,
    });
    expect(r.step).toBeUndefined();
    expect(r.texts).toEqual([
      "Erase the disk and everything on it?",
      "Erase disk deletes everything on /dev/vda, among it:",
      'Windows Boot Manager on /dev/vda1 (vfat, 100 MiB)\n/dev/vda3 (ntfs, "Windows", 23.9 GiB)',
      expect.stringMatching(/^Next erases it and installs ParticleOS\. Back returns/),
    ]);
    // What a user (and the boot tier's OCR) sees on the page.
    const seen = await ocr(r.png, { upscale: 2 });
    // (OCR reads the bold "1" as "l" at times.)
    expect(seen).toMatch(/Windows Boot Manager on \/dev\/vda[1l]\b/);
    expect(seen).toMatch(/\/dev\/vda3 \(ntfs/);
  });

  it("passes itself over, forwards, when Erase is chosen on a blank disk (the bios walk)", async () => {
    const r = await runPage({ install: "erase", osprober: [], disks: [cdrom, blankDisk], from: 3 });
    expect(r).toMatchObject({ step: "next", texts: [] });
  });

  it("passes itself over backwards when the user comes back from the next page", async () => {
    const r = await runPage({
      install: "alongside",
      osprober: [WINDOWS],
      disks: [laptop],
      from: 5,
    });
    expect(r).toMatchObject({ step: "back", texts: [] });
    const ahead = await runPage({
      install: "alongside",
      osprober: [WINDOWS],
      disks: [laptop],
      from: 3,
    });
    expect(ahead).toMatchObject({ step: "next", texts: [] });
  });

  it("asks when the disk file is missing, naming what os-prober found", async () => {
    const r = await runPage({ install: "erase", osprober: [WINDOWS], from: 3 });
    expect(r.step).toBeUndefined();
    expect(r.texts[1]).toMatch(/could not be read/);
    expect(r.texts[2]).toBe("Windows Boot Manager on /dev/vda1");
  });
});

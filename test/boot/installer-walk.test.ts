// Walks the real Calamares of the example ISO with the keyboard (QMP send-key), from the welcome
// page to the summary, on SeaBIOS and OVMF: every page is screenshotted and OCRed, the partition
// page must pre-select nothing (Next does nothing there) and, once "Erase disk" is clicked, show
// our layout, the summary must list the planned partitions,
// and Calamares' own log (copied to the serial console by the live system) must hold no
// configuration warnings or errors. The walk then installs (payload check, partitioning, the
// atomisodeploy job, users), boots the installed disk and logs in as the user it created.
// SeaBIOS walks the example ISO, which carries the image; OVMF walks its online variant
// (test/support/online-iso.ts), whose welcome page must find the registry through the guest's
// only network path and whose deploy job pulls the image from it. With the unattended installs
// (OVMF embedded, SeaBIOS online) every firmware meets both payloads. Both walks tick "Encrypt
// system" (clicked where OCR finds it, through a USB tablet: its mnemonic Alt+C is also
// Cancel's; the tick is seen in the box's pixels) and type the passphrase twice (Next, and so
// the users page, comes only when both match) and again at the installed system's prompt: the
// SeaBIOS walk with Erase, the OVMF walk with Install alongside.
// The OVMF walk's disk is a Windows laptop's, NTFS filling it
// (test/support/windows-disk.ts), with a "Windows Boot Manager" firmware entry: the page must
// still pre-select nothing; the walk first clicks "Erase disk" and Next, where atomiso's page
// must ask once more naming Windows and its NTFS partition, goes Back, then clicks "Install
// alongside" (Calamares shrinks NTFS; the confirmation page then passes itself over), and
// after the install Windows' files are unchanged, ntfsfix -n is clean, the firmware's BootOrder
// starts with the new system and keeps Windows Boot Manager, and the GRUB menu offers Windows.
// With ATOMISO_WALK_REPLACE=uefi (`npm run test:walk-replace`; not in CI: one guest more) the
// OVMF walk's disk is instead a UEFI PC's with an older Linux (its ESP with EFI/debian, its
// root, a data partition; its NVRAM entry first) (test/support/linux-disk.ts): the walk clicks
// "Replace a partition" and the old Linux in the "Current:" legend; the summary must delete
// only that partition, create the layout in its space and reuse the ESP, and after the install
// the data partition's files must be unchanged (e2fsck -fn clean), a user's tool on the ESP
// too, the new system's firmware entry first on that ESP, and the installed system boots from
// it. ATOMISO_WALK_REPLACE=bios does the same on SeaBIOS (no ESP). Both tick
// "Encrypt system" as the walks always do.
// With ATOMISO_WALK_MANUAL=bios (`npm run test:walk-manual`; not in CI) the SeaBIOS walk takes
// "Manual partitioning" on its blank disk instead of Erase: a new MBR table and one ext4
// partition for / (no /boot: ostree keeps the kernels in the sysroot), made in Calamares' own
// dialogs; the summary must say so, and the installed system must boot from that one partition.
// ATOMISO_WALK_MANUAL=uefi (`npm run test:walk-manual-uefi`) takes it on the older Linux's disk
// of the Replace walk instead, as a user who reinstalls by hand: the old root edited to be
// formatted for /, the ESP kept and mounted at /boot/efi (no separate /boot there either); the
// data partition and the ESP's tool must survive and the new system boot from the old root.
// Screenshots, OCR text, serial log and the extracted Calamares log stay in
// test-artifacts/walk/<firmware>/ (CI artifacts).

import { constants } from "node:fs";
import { copyFile, link, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, inject, it } from "vitest";
import {
  ALL_REQUIREMENTS_MET,
  REQUIREMENTS_NOT_MET,
  WAITING_FOR_MODULES,
} from "../../src/cli/commands/test-boot.js";
import { loadConfig } from "../../src/config/load.js";
import { readLock } from "../../src/image/lock.js";
import { calamaresLogLines, calamaresLogReport } from "../../src/qemu/calamares-log.js";
import { type Guest, launchGuest } from "../../src/qemu/guest.js";
import { createBlankDisk, DEFAULT_MARKER, type Firmware } from "../../src/qemu/index.js";
import { bootInstalled } from "../../src/qemu/install.js";
import { pressKeys, typeText } from "../../src/qemu/keys.js";
import { ovmfFiles } from "../../src/qemu/machine.js";
import { type OcrWord, ocrWords } from "../../src/qemu/ocr.js";
import { bootConfig, orderedEntries, readVarStore } from "../../src/qemu/ovmf-vars.js";
import { darkPixels, decodePngGray, pngSize } from "../../src/qemu/png.js";
import {
  clickAt,
  type PageScreen,
  type ScreenWaitOptions,
  waitForScreen,
} from "../../src/qemu/screen.js";
import {
  describeBootOrder,
  dualBootFindings,
  expectDualBoot,
  expectNewSystemFirst,
} from "../support/dual-boot.js";
import {
  type LinuxDiskRecord,
  makeLinuxDisk,
  OLD_SYSTEM_NAME,
  oldLinuxVars,
  verifyLinuxDisk,
} from "../support/linux-disk.js";
import {
  EXAMPLE_PROFILE,
  ONLINE_REFERENCE,
  ONLINE_REPOSITORY,
  type OnlineIso,
  onlineIso,
} from "../support/online-iso.js";
import { stopRegistry } from "../support/registry.js";
import {
  makeLaptopVars,
  makeWindowsDisk,
  type RecordedPartition,
  type WindowsDiskRecord,
} from "../support/windows-disk.js";

/**
 * Issue 18: which walk replaces an older Linux's partition ("Replace a partition"), keeping the
 * data partition beside it (and on UEFI the ESP with a user's tool), instead of its usual disk
 * (OVMF: beside Windows; SeaBIOS: a blank disk, Erase). Unset in CI (one guest more); `npm run
 * test:walk-replace` sets "uefi" (docs/installer.md, "Replace a partition, walked in QEMU").
 */
const WALK_REPLACE = process.env.ATOMISO_WALK_REPLACE ?? "";
if (!["", "uefi", "bios"].includes(WALK_REPLACE))
  throw new Error(`ATOMISO_WALK_REPLACE must be "uefi" or "bios", not "${WALK_REPLACE}"`);

/**
 * Issue 18: which walk partitions by hand ("Manual partitioning") instead of its usual choice.
 * "bios": the SeaBIOS walk's blank disk gets an MBR table and one ext4 root, no /boot. "uefi":
 * the OVMF walk's disk is the older Linux's (as with ATOMISO_WALK_REPLACE=uefi) and the walk
 * edits its partitions: the old root formatted as ext4 for /, the ESP kept as it is and mounted
 * at /boot/efi, nothing created or deleted. Unset in CI; `npm run test:walk-manual` sets "bios",
 * `npm run test:walk-manual-uefi` "uefi".
 */
const WALK_MANUAL = process.env.ATOMISO_WALK_MANUAL ?? "";
if (!["", "bios", "uefi"].includes(WALK_MANUAL))
  throw new Error(`ATOMISO_WALK_MANUAL must be "bios" or "uefi", not "${WALK_MANUAL}"`);
if (WALK_MANUAL !== "" && WALK_MANUAL === WALK_REPLACE)
  throw new Error(
    `ATOMISO_WALK_MANUAL and ATOMISO_WALK_REPLACE cannot both walk ${WALK_MANUAL === "bios" ? "SeaBIOS" : "OVMF"}`,
  );

interface WalkCase {
  firmware: Firmware;
  /** The disk is a Windows laptop's (NTFS filling it); the walk clicks "Install alongside". */
  besideWindows: boolean;
  /** The disk holds an old Linux and a data partition (on UEFI its ESP first too). */
  oldLinux: boolean;
  /** On the old Linux's disk, the walk clicks "Replace a partition" and the old root. */
  replaceLinux: boolean;
  /** Walk the online ISO: the image is pulled from a registry at install time. */
  online: boolean;
  /**
   * "Manual partitioning": on a blank disk an MBR table and one ext4 root (no /boot); on the
   * old Linux's disk its root formatted for / and its ESP kept for /boot/efi.
   */
  manual: boolean;
  /** Tick "Encrypt system" on the partition page (a LUKS2 root). */
  encrypt: boolean;
}
const CASES: WalkCase[] = [
  {
    firmware: "bios",
    online: false,
    // Manual partitioning has no "Encrypt system" box (its dialog's Encrypt is per partition).
    encrypt: WALK_MANUAL !== "bios",
    besideWindows: false,
    oldLinux: WALK_REPLACE === "bios",
    replaceLinux: WALK_REPLACE === "bios",
    manual: WALK_MANUAL === "bios",
  },
  {
    firmware: "uefi",
    online: true,
    // Encryption beside Windows too: Alongside takes the passphrase when the page is left.
    encrypt: WALK_MANUAL !== "uefi",
    besideWindows: WALK_REPLACE !== "uefi" && WALK_MANUAL !== "uefi",
    oldLinux: WALK_REPLACE === "uefi" || WALK_MANUAL === "uefi",
    replaceLinux: WALK_REPLACE === "uefi",
    manual: WALK_MANUAL === "uefi",
  },
];
const PRODUCT = "ParticleOS";
const VERSION = "0.1.0";
const FULL_NAME = "Test User";
const LOGIN = "tester";
const PASSWORD = "correct-horse-9";
const PASSPHRASE = "particle-vault-7";

/** Messages the users page shows for a field it does not accept. */
const USERS_PAGE_COMPLAINTS = [
  /too short/i,
  /too long/i,
  /do not match/i,
  /not allowed/i,
  /invalid characters/i,
  /are allowed/i,
];

/** A partition number as OCR reads it in bold text: "1" at times as "l", "2" as "z". */
function ocrDigit(n: number): string {
  return n === 1 ? "[1l]" : n === 2 ? "[2z]" : String(n);
}

/** The lowest of `words` matching `word`: a button below text that names it too. */
function lowestOf(words: OcrWord[], word: RegExp): OcrWord | undefined {
  return words.filter((w) => word.test(w.text)).sort((a, b) => b.top - a.top)[0];
}

/** The lowest word OCR reads in `png` matching `word`. */
async function lowestWord(png: string, word: RegExp): Promise<OcrWord | undefined> {
  return lowestOf(await ocrWords(png, { upscale: 3 }), word);
}

/** Links (or copies) the ISO into a private directory: the original may be rebuilt meanwhile. */
async function privateIso(iso: string, dir: string): Promise<string> {
  const target = join(dir, "installer.iso");
  try {
    await link(iso, target); // the build renames a new ISO into place, so a hard link is stable
  } catch {
    await copyFile(iso, target, constants.COPYFILE_FICLONE);
  }
  return target;
}

describe.concurrent("keyboard walk through the Calamares installer", () => {
  for (const {
    firmware,
    online,
    encrypt,
    besideWindows,
    oldLinux,
    replaceLinux,
    manual,
  } of CASES) {
    it(
      `${firmware}${online ? " (online ISO)" : ""}: welcome → location → keyboard → partitions → users → summary → install → login`,
      async () => {
        const artifacts = resolve("test-artifacts/walk", firmware);
        await rm(artifacts, { recursive: true, force: true });
        await mkdir(artifacts, { recursive: true });
        const scratch = await mkdtemp(join(tmpdir(), `atomiso-walk-${firmware}-`));
        const timings: Record<string, number> = {};
        const t0 = Date.now();
        const lap = (name: string) => {
          timings[name] = Math.round((Date.now() - t0) / 1000);
        };
        let guest: Guest | undefined;
        let registry: OnlineIso | undefined;
        try {
          // The example ISO installs the image its atomiso.lock pins.
          const lock = await readLock(resolve(EXAMPLE_PROFILE, "../atomiso.lock"));
          let iso: string;
          if (online) {
            registry = await onlineIso(scratch, inject("isoPath"), lock);
            iso = registry.iso;
          } else {
            iso = await privateIso(inject("isoPath"), scratch);
          }
          // Beside Windows: the laptop's 24 GiB disk and its NVRAM (Windows Boot Manager), which
          // the installer writes its entry into, the installed boot reuses and the host reads.
          let laptop: { record: WindowsDiskRecord; vars: string } | undefined;
          // Replace: an old Linux and a data partition on the 20 GiB disk; on UEFI its ESP
          // first and its NVRAM (the old system's entry first).
          let oldPc: LinuxDiskRecord | undefined;
          let oldPcVars: string | undefined;
          let target: string;
          const varsTemplate = () => ovmfFiles(firmware)?.varsTemplate as string;
          if (besideWindows) {
            const record = await makeWindowsDisk(join(scratch, "laptop.raw"), { sizeGiB: 24 });
            const vars = await makeLaptopVars(record, varsTemplate(), join(scratch, "vars.fd"));
            laptop = { record, vars };
            target = record.image;
          } else if (oldLinux) {
            oldPc = await makeLinuxDisk(join(scratch, "old-pc.raw"), {
              sizeGiB: 20,
              oldGiB: 12,
              esp: firmware !== "bios",
            });
            if (oldPc.esp)
              oldPcVars = await oldLinuxVars(oldPc, varsTemplate(), join(scratch, "vars.fd"));
            target = oldPc.image;
          } else {
            target = await createBlankDisk(join(scratch, "target.qcow2"), 20);
          }
          const diskGiB = laptop ? 24 : 20;
          guest = await launchGuest({
            firmware,
            iso,
            media: "cdrom",
            disks: [{ path: target }],
            smp: 1,
            memoryMiB: 3072,
            runDir: artifacts,
            ...(registry ? { guestForwards: registry.guestForwards } : {}),
            tablet: true, // clicks: the partitioning choice, the Encrypt system box
            ...(laptop ? { ovmfVarsFile: laptop.vars } : {}),
            ...(oldPcVars ? { ovmfVarsFile: oldPcVars } : {}),
          });
          const g = guest;
          const page = (options: ScreenWaitOptions): Promise<PageScreen> =>
            waitForScreen(g.qmp, artifacts, { signal: g.signal, ...options });
          // The live session starts Calamares again when it dies: a page that does not come
          // then fails as the crash it is (Calamares' last log line is the shell's report).
          const failIfCalamaresCrashed = async (during: string) => {
            await g.serial.poll();
            if (calamaresLogLines(g.serial.text()).some((l) => l.startsWith("Segmentation fault")))
              throw new Error(
                `Calamares crashed (segmentation fault) ${during}; its log is in ${join(artifacts, "serial.log")}`,
              );
          };

          const marker = await g.serial.waitFor(DEFAULT_MARKER, {
            timeoutMs: 12 * 60_000,
            signal: g.signal,
          });
          lap("calamares-running");
          expect(marker.line).toContain(`firmware=${firmware === "bios" ? "bios" : "efi"}`);

          // Welcome: the subtitle replaces "Waiting for N modules" once every requirement passed
          // (the online ISO requires internet: Calamares must reach the registry's /v2/).
          const welcome = await page({
            name: "1-welcome",
            expect: [`Welcome to the ${PRODUCT} ${VERSION} installer`, ALL_REQUIREMENTS_MET],
            reject: [WAITING_FOR_MODULES, REQUIREMENTS_NOT_MET],
            timeoutMs: 6 * 60_000,
            intervalMs: 5000,
          });
          lap("welcome");
          expect(welcome.text).toContain(PRODUCT);
          expect(welcome.text).toContain("American English");
          // No mouse: openbox in the live session makes Calamares' window active, so its
          // keyboard shortcuts work from the first key.

          await pressKeys(g.qmp, "alt-n");
          await page({
            name: "2-location",
            // partition.conf/locale.conf: region America, zone New_York.
            expect: ["Region:", "Zone:", "America", "New York", "The system language will be set"],
          });
          lap("location");

          await pressKeys(g.qmp, "alt-n");
          // The chosen layout is read on the summary page ("Keyboard layout has been set to
          // English (US)"), which is what the install uses: the list's highlighted last row
          // here is not always legible to OCR.
          await page({ name: "3-keyboard", expect: ["Keyboard model:"] });
          lap("keyboard");

          await pressKeys(g.qmp, "alt-n");
          // Nothing is pre-selected (initialPartitioningChoice "none": on a disk holding another
          // system, a pre-selected Erase would delete it for a user who only presses Next).
          const choices = await page({
            name: "4-partitions-unchosen",
            expect: [
              "Erase disk",
              "This will delete all data currently present",
              // Offered only when something on the disk can shrink (ntfsresize in the live root).
              ...(laptop ? ["Install alongside"] : []),
              // Offered when the disk has partitions.
              ...(oldPc ? ["Replace a partition"] : []),
            ],
            ocr: { upscale: 3 },
            timeoutMs: 90_000,
          });
          // Next is disabled until a choice is made: pressing it leaves the page unchanged.
          await pressKeys(g.qmp, "alt-n");
          await new Promise((r) => setTimeout(r, 5000));
          await page({
            name: "4-partitions-next-disabled",
            expect: ["Erase disk"],
            reject: ["What is your name?"],
            ocr: { upscale: 3 },
          });
          // A click on the middle of a word OCR read in `png` (shifted by `dx`), through the
          // tablet's absolute pointer.
          const clickOnWord = async (word: OcrWord, png: string, dx = 0) =>
            clickAt(
              g.qmp,
              word.left + word.width / 2 + dx,
              word.top + word.height / 2,
              pngSize(await readFile(png)),
            );
          // A click on a choice's label, found by OCR.
          const clickChoice = async (on: PageScreen, first: string, second: RegExp) => {
            const choice = (await ocrWords(on.png, { upscale: 3 })).find(
              (w, i, words) => w.text === first && second.test(words[i + 1]?.text ?? ""),
            );
            if (!choice)
              throw new Error(`no "${first} ${second.source.slice(1)}" label found in ${on.png}`);
            await clickOnWord(choice, on.png);
          };
          let chooseFrom = choices;
          if (laptop) {
            // Erase on a disk that holds Windows asks once more, naming what would be lost
            // (atomiso's page after the partition page); Back returns to the choice.
            await clickChoice(choices, "Erase", /^disk/);
            // Next is enabled once the "After:" preview holds the layout's partitions.
            await page({
              name: "4-partitions-erase-preview",
              // (OCR misses the small "root" legend at times.)
              expect: ["Erase disk", /\bEFI system\b/, /\bboot\b/],
              ocr: { upscale: 3 },
              timeoutMs: 90_000,
            });
            await pressKeys(g.qmp, "alt-n");
            // On a miss, the error quotes what the page read and decided (its line in
            // Calamares' log, which live-marker copies to the serial console).
            const eraseCheckLines = async () => {
              await g.serial.poll();
              return calamaresLogLines(g.serial.text())
                .filter((l) => l.includes("atomiso erase check"))
                .join("\n");
            };
            // Calamares gives os-prober 60 s when it starts; in a loaded TCG host it can time
            // out (seen 2026-12-05), and the page then names the partitions without their system.
            await g.serial.poll();
            const osProberTimedOut = calamaresLogLines(g.serial.text()).some((l) =>
              l.includes("os-prober timed out"),
            );
            timings["os-prober-timed-out"] = osProberTimedOut ? 1 : 0;
            const confirm = await page({
              name: "4-partitions-erase-confirm",
              expect: [
                "Erase the disk and everything on it?",
                "Erase disk deletes everything on /dev/vda",
                // OCR reads the bold "1" as "l" at times.
                osProberTimedOut
                  ? /\/dev\/vda[1l] \(vfat/
                  : /Windows Boot Manager on \/dev\/vda[1l]\b/,
                /\/dev\/vda3 \(ntfs/,
              ],
              reject: ["What is your name?"],
              ocr: { upscale: 3 },
              timeoutMs: 60_000,
            }).catch(async (e: unknown) => {
              await new Promise((r) => setTimeout(r, 5000)); // live-marker's tail -F
              throw new Error(`${String(e)}\nThe page's own record:\n${await eraseCheckLines()}`);
            });
            lap("erase-confirm");
            const afterBack = (timeoutMs: number) =>
              page({
                name: "4-partitions-after-back",
                expect: ["Install alongside", "Erase disk"],
                reject: [/Erase the disk and everything/],
                ocr: { upscale: 3 },
                timeoutMs,
              });
            // Back by its shortcut; should the QML page's window hold the keyboard focus (Qt
            // then sends it no Alt+B), by a click on the button (the lowest "Back" on screen:
            // the page's own text names it too). Which one worked goes into timings.
            await pressKeys(g.qmp, "alt-b");
            try {
              chooseFrom = await afterBack(20_000);
              timings["erase-confirm-back-by-key"] = 1;
            } catch {
              const back = await lowestWord(confirm.png, /^Back$/);
              if (!back) throw new Error(`no Back button found in ${confirm.png}`);
              await clickOnWord(back, confirm.png);
              chooseFrom = await afterBack(60_000);
              timings["erase-confirm-back-by-key"] = 0;
            }
          }
          // Choose Erase disk, Install alongside beside Windows, Replace a partition or Manual
          // partitioning.
          const [choiceFirst, choiceSecond]: [string, RegExp] = laptop
            ? ["Install", /^alongside/]
            : replaceLinux
              ? ["Replace", /^a$/]
              : manual
                ? ["Manual", /^partitioning/]
                : ["Erase", /^disk/];
          await clickChoice(chooseFrom, choiceFirst, choiceSecond);
          if (oldPc && replaceLinux) {
            // Replace: a click on the old system in the "Current:" legend (os-prober's name for
            // it, or failing OCR of that, its device name) selects it; the "After:" preview then
            // shows the layout in its place. A click Calamares swallows while it is busy is
            // repeated on a fresh screenshot (three tries); a crash is named as such.
            for (let attempt = 1; ; attempt++) {
              const pick = await page({
                name: "4-partitions-replace",
                // OCR can split the bold label (seen: "Selecta" … "partition to install on").
                expect: ["Replace a partition", /partition to install on/i],
                ocr: { upscale: 3 },
                timeoutMs: 90_000,
              });
              const words = (await ocrWords(pick.png, { upscale: 3 })).sort(
                (a, b) => a.top - b.top,
              );
              const [distro] = OLD_SYSTEM_NAME.split(" ");
              const node = `vda${oldPc.old.number}`;
              const nodeWord = new RegExp(`^vda${ocrDigit(oldPc.old.number)}$`);
              const legend =
                words.find((w) => w.text === distro) ?? words.find((w) => nodeWord.test(w.text));
              if (!legend)
                throw new Error(`neither "${distro}" nor ${node} found by OCR in ${pick.png}`);
              await clickOnWord(legend, pick.png);
              try {
                await page({
                  name: "4-partitions-replace-chosen",
                  expect: ["Replace a partition", /\bboot\b/, /\broot\b/],
                  ocr: { upscale: 3 },
                  timeoutMs: 30_000,
                });
                timings["replace-clicks"] = attempt;
                break;
              } catch (e) {
                await failIfCalamaresCrashed("applying Replace");
                if (attempt >= 3) throw e;
              }
            }
          }
          if (laptop) {
            // Alongside: Calamares asks which partition to shrink. A click on the NTFS
            // partition's entry in the "Current:" legend (its second line names the file
            // system) selects it; the "After:" preview then shows the split.
            // After Erase and Back, Calamares reverts the disk (a rescan of several seconds)
            // and rebuilds the legend, which can swallow a click made meanwhile: the click is
            // repeated on a fresh screenshot until the split is stated (three tries).
            for (let attempt = 1; ; attempt++) {
              const shrink = await page({
                name: "4-partitions-alongside",
                expect: ["Install alongside", /partition to shrink/i],
                ocr: { upscale: 3 },
                timeoutMs: 90_000,
              });
              // The legend's NTFS (or vda3) label; OCR misses the small grey "NTFS" at times,
              // so failing both, the "Current:" bar itself, right of its label (NTFS fills it).
              const words = await ocrWords(shrink.png, { upscale: 3 });
              const screen = pngSize(await readFile(shrink.png));
              const legend =
                words.find((w) => /ntfs/i.test(w.text)) ?? words.find((w) => /^vda3$/.test(w.text));
              const current = words.find((w) => /^Current:?$/.test(w.text));
              const target = legend
                ? { x: legend.left + legend.width / 2, y: legend.top + legend.height / 2 }
                : current
                  ? { x: Math.round(screen.width * 0.6), y: current.top + current.height / 2 }
                  : undefined;
              if (!target)
                throw new Error(
                  `neither the NTFS partition nor the "Current:" bar found by OCR in ${shrink.png}`,
                );
              await clickAt(g.qmp, target.x, target.y, screen);
              try {
                await page({
                  name: "4-partitions-shrink-chosen",
                  expect: [/will be shrunk to \d+ ?MiB/],
                  ocr: { upscale: 3 },
                  timeoutMs: 30_000,
                });
                timings["alongside-clicks"] = attempt;
                break;
              } catch (e) {
                if (attempt >= 3) throw e;
              }
            }
          }
          // Clicks a word OCR finds in a fresh screenshot showing `text`: the lowest word matching
          // `word` (a button below a list that names the same word) or the first.
          const clickWord = async (name: string, text: string, word: RegExp, lowest = false) => {
            const shot = await page({ name, expect: [text], ocr: { upscale: 3 } });
            const found = lowest
              ? await lowestWord(shot.png, word)
              : (await ocrWords(shot.png, { upscale: 3 })).find((w) => word.test(w.text));
            if (!found) throw new Error(`no word ${word.source} found by OCR in ${shot.png}`);
            await clickOnWord(found, shot.png);
          };
          // Leaves the manual partitioning page by Next and OKs the one dialog Calamares shows
          // then: on BIOS its note on GPT (shown for any table without a BIOS boot partition,
          // the walk's MBR too), on UEFI its "does not meet recommendations" warning for an ESP
          // below the profile's efi_mib (the old PC's). Calamares switches to the users page
          // first and shows the dialog after it, seconds later in a TCG guest: a walk that took
          // the users page for "no dialog" typed into the dialog, whose OK the "o" of the
          // password pressed (QMessageBox takes a mnemonic without Alt), and the rest of the
          // keys into the page's fields. So the expected dialog is waited for, and the users
          // page only without it.
          const leaveManualPage = async (dialog: RegExp | undefined) => {
            const leftPage = (timeoutMs: number) =>
              page({
                name: "4-manual-after",
                // (OCR has read the bold title as "Uption to use GPi on BIOS".)
                expect: [dialog ?? "What is your name?"],
                ocr: { upscale: 3 },
                timeoutMs,
              });
            // Next: Alt+N did nothing after the dialog in one walk, and OCR does not read the
            // buttons on this page; failing the key, a click on Next, the button left of Cancel
            // (98 px apart, centre to centre, in both window sizes).
            await pressKeys(g.qmp, "alt-n");
            try {
              await leftPage(45_000);
              timings["manual-next-by-key"] = 1;
            } catch {
              const shot = await page({ name: "4-manual-next", expect: ["Cancel"] });
              const cancel = await lowestWord(shot.png, /^Cancel$/);
              if (!cancel) throw new Error(`no Cancel button found by OCR in ${shot.png}`);
              await clickOnWord(cancel, shot.png, -98);
              await leftPage(90_000);
              timings["manual-next-by-key"] = 0;
            }
            if (!dialog) return;
            for (let attempt = 1; ; attempt++) {
              await pressKeys(g.qmp, "ret");
              try {
                await page({
                  name: "4-manual-dialog-closed",
                  expect: ["What is your name?", "Choose a password"],
                  reject: [dialog],
                  ocr: { upscale: 3 },
                  timeoutMs: 30_000,
                });
                timings["manual-dialog-returns"] = attempt;
                break;
              } catch (err) {
                if (attempt >= 3) throw err;
              }
            }
          };
          // Calamares took a minute and more to show its partition dialogs in a TCG guest (not
          // measured where the time goes).
          const partitionDialog = (name: string, expect: string[]) =>
            page({ name, expect, ocr: { upscale: 3 }, timeoutMs: 5 * 60_000, intervalMs: 5000 });
          const manualPage = (expect: string[]) =>
            page({
              name: "4-manual",
              expect: ["Storage device", "New Partition Table", ...expect],
              ocr: { upscale: 3 },
              timeoutMs: 90_000,
            });
          // Manual partitioning, as a user does it on a blank disk: a new partition table (MBR,
          // Calamares' choice on BIOS), the free space selected, Create, mount point "/" (ext4,
          // the profile's default, preselected), OK, Next. Returns the page with the new root.
          const partitionByHand = async (): Promise<PageScreen> => {
            await pressKeys(g.qmp, "alt-n");
            await manualPage(["Unpartitioned space"]);
            await pressKeys(g.qmp, "alt-t");
            await page({
              name: "4-manual-table",
              expect: [/What kind of partition table/, /Master Boot Record/],
              ocr: { upscale: 3 },
              timeoutMs: 60_000,
            });
            await pressKeys(g.qmp, "ret"); // OK, with MBR selected
            // The free space's row in the list (the legend above it names it too).
            await clickWord("4-manual-free", "Free Space", /^Free$/, true);
            await clickWord("4-manual-create-button", "Create", /^Create$/);
            // (OCR misses the "Flags:" label beside the list, and "Mount Point:" once the field
            // has the focus.)
            await partitionDialog("4-manual-create", ["File System:", "FS Label:"]);
            await pressKeys(g.qmp, "alt-m");
            await typeText(g.qmp, "/");
            // (OCR reads the button's icon into the word at times: "@OK".)
            await clickWord("4-manual-create-filled", "FS Label:", /OK$/, true);
            const root = await page({
              name: "4-manual-root",
              expect: [/New Partition\b.*ext4/, "Root"],
              reject: ["FS Label:"],
              ocr: { upscale: 3 },
              timeoutMs: 90_000,
            });
            // (No ESP on UEFI: Calamares' "No EFI system partition configured" warning.)
            await leaveManualPage(
              firmware === "bios"
                ? /GPT partition table is the best option/
                : /No EFI system partition configured/,
            );
            return root;
          };
          // Manual partitioning on a disk that has partitions, as a user reinstalls by hand: the
          // ESP's row, Edit, Keep (the default), mount point /boot/efi, OK; the old system's
          // root row selected, Edit, Format (ext4, its file system), mount point "/", OK; Next.
          // Nothing is created or deleted. Returns the page with both partitions assigned.
          const editByHand = async (disk: LinuxDiskRecord): Promise<PageScreen> => {
            if (!disk.esp) throw new Error("the manual edit walk needs the old PC's ESP (UEFI)");
            await pressKeys(g.qmp, "alt-n");
            await manualPage([]);
            const edit = async (
              name: string,
              part: RecordedPartition,
              format: boolean,
              mountPoint: string,
            ) => {
              // The row in the list, below the bar's legend (which can name the device too).
              // (OCR reads "/dev/vda2" as "idevivda2" and the like: the device name ends it.)
              const row = new RegExp(`vda${ocrDigit(part.number)}$`);
              // A click Calamares swallows (seen on the page's first screenshot) leaves the row
              // white and Edit disabled: the click is repeated until the row is highlighted
              // (most of its band no longer white), three tries.
              for (let attempt = 1; ; attempt++) {
                const shot = await page({
                  name: `4-manual-${name}-row`,
                  expect: ["Storage device"],
                  ocr: { upscale: 3 },
                });
                const word = await lowestWord(shot.png, row);
                if (!word) throw new Error(`no row ${row.source} found by OCR in ${shot.png}`);
                const band = { left: word.left, top: word.top, width: 300, height: word.height };
                const notWhite = async (png: string) =>
                  darkPixels(decodePngGray(await readFile(png)), band, 200);
                const before = await notWhite(shot.png);
                await clickOnWord(word, shot.png);
                await new Promise((r) => setTimeout(r, 3000));
                const after = await page({
                  name: `4-manual-${name}-row-clicked`,
                  expect: ["Storage device"],
                  ocr: { upscale: 3 },
                });
                if ((await notWhite(after.png)) > before + (band.width * band.height) / 3) {
                  timings[`manual-${name}-row-clicks`] = attempt;
                  break;
                }
                if (attempt >= 3)
                  throw new Error(
                    `the row ${row.source} was not selected by 3 clicks (${after.png})`,
                  );
              }
              await clickWord(`4-manual-${name}-edit-button`, "Storage device", /^Edit$/, true);
              await partitionDialog(`4-manual-${name}-edit`, ["Content:", "Keep", "Format"]);
              if (format) await clickWord(`4-manual-${name}-format`, "Content:", /^Format$/);
              // The mount point field (its mnemonic), emptied, typed; then OK, clicked. (Return,
              // which presses OK too, closed the ESP's dialog once without its typed mount
              // point when nothing else had one yet.)
              await pressKeys(g.qmp, "alt-m ctrl-a");
              await typeText(g.qmp, mountPoint);
              await new Promise((r) => setTimeout(r, 2000));
              const typed = await page({
                name: `4-manual-${name}-typed`,
                expect: ["Content:", ...(mountPoint.length > 1 ? [mountPoint.slice(1)] : [])],
                ocr: { upscale: 3 },
              });
              const okButton = lowestOf(await ocrWords(typed.png, { upscale: 3 }), /OK$/);
              if (okButton) await clickOnWord(okButton, typed.png);
              else await pressKeys(g.qmp, "ret");
              await new Promise((r) => setTimeout(r, 3000));
              const shot = (suffix: string) =>
                page({
                  name: `4-manual-${name}-${suffix}`,
                  expect: ["Storage device"],
                  ocr: { upscale: 3 },
                });
              let filled = await shot("filled");
              if (/already in use/.test(filled.text)) {
                // Typed "/boot/efi" stayed refused as "already in use" with only "/" taken (seen
                // 2026-12-05 twice, Return or not): Calamares checks the box's current text
                // when it changes, and the typed text, a list item, did not count as a change
                // after "/". Up and Down, to the item before and back, make it check again.
                await pressKeys(g.qmp, "up");
                await new Promise((r) => setTimeout(r, 1000));
                await pressKeys(g.qmp, "down");
                await new Promise((r) => setTimeout(r, 2000));
                filled = await shot("rechecked");
                timings[`manual-${name}-rechecked`] = 1;
              }
              if (filled.text.includes("Content:")) {
                expect(filled.text, "the dialog's own complaint").not.toMatch(/already in use/);
                // Return took the typed item and left the dialog open (seen with /boot/efi): a
                // second Return presses OK. Failing that, a click on OK, found by OCR or as the
                // button left of the dialog's Cancel (the higher of the two on screen; 86 px
                // apart, centre to centre).
                await pressKeys(g.qmp, "ret");
                await new Promise((r) => setTimeout(r, 3000));
                filled = await shot("second-return");
                timings[`manual-${name}-second-return`] = 1;
                if (filled.text.includes("Content:")) {
                  const words = await ocrWords(filled.png, { upscale: 3 });
                  const ok = lowestOf(words, /OK$/);
                  const cancel = words
                    .filter((w) => /^Cancel$/.test(w.text))
                    .sort((a, b) => a.top - b.top)[0];
                  if (ok) await clickOnWord(ok, filled.png);
                  else if (cancel) await clickOnWord(cancel, filled.png, -86);
                  else throw new Error(`neither OK nor Cancel found by OCR in ${filled.png}`);
                  timings[`manual-${name}-ok-by-click`] = 1;
                }
              }
              const done = await page({
                name: `4-manual-${name}-done`,
                expect: ["Storage device"],
                reject: ["Content:"],
                ocr: { upscale: 3 },
                timeoutMs: 90_000,
              });
              // What Calamares took from the dialog, from its log ("/dev/vda1" format? false
              // label= "SYSTEM" mount= "/boot/efi"): the list's Mount Point column showed the
              // ESP's only when it was edited second (the view is not always repainted).
              const applied = new RegExp(
                `"/dev/vda${part.number}" format\\? ${format} label= "[^"]*" mount= "${mountPoint}"`,
              );
              await g.serial.waitFor(applied, {
                timeoutMs: 60_000,
                pollMs: 2000,
                signal: g.signal,
                hint: `Calamares did not log taking the ${name} dialog's settings (${done.png})`,
              });
              return done;
            };
            // The ESP first: with "/" already taken, typed "/boot/efi" was refused as "already
            // in use" (Calamares checks the box when its current item changes, and typing "/"
            // made that item "/", the rest of the text then no change of item), Up and Down
            // not always curing it. Nothing is taken yet when the ESP's is typed, and "/" is
            // not "/boot/efi".
            await edit("esp", disk.esp, false, "/boot/efi");
            const done = await edit("root", disk.old, true, "/");
            const espMiB = (disk.esp.sizeLba * disk.sectorSize) / 2 ** 20;
            const { efi_mib } = (await loadConfig(EXAMPLE_PROFILE)).config.installer.partition;
            await leaveManualPage(espMiB < efi_mib ? /does not meet recommendations/ : undefined);
            return done;
          };
          // The "After:" preview with the layout's partitions (boot, root) is shown once a
          // choice is made. OCR does not always read the "After:" label, so the legend counts.
          const partitions = manual
            ? oldPc
              ? await editByHand(oldPc)
              : await partitionByHand()
            : await page({
                name: "4-partitions",
                // Alongside: Calamares states the split instead of an "After:" legend.
                expect: laptop
                  ? ["Install alongside", /will be shrunk to \d+ ?MiB/]
                  : oldPc
                    ? ["Replace a partition", /\bboot\b/, /\broot\b/]
                    : [
                        "Erase disk",
                        // Not "This": the pointer rests there after the click on the choice, and OCR
                        // then reads "Thi®".
                        "will delete all data currently present",
                        /\bboot\b/,
                        /\broot\b/,
                      ],
                ocr: { upscale: 3 },
                timeoutMs: 90_000,
              });
          lap("partitions");
          expect(partitions.text).toMatch(new RegExp(`vda - ${diskGiB}(\\.00)? GiB`));
          if (encrypt) {
            // OCR reads the label as "Encrypt" or "Encypt"; the box sits left of it.
            const word = (await ocrWords(partitions.png, { upscale: 3 })).find((w) =>
              /^En\w*pt(system)?$/i.test(w.text),
            );
            if (!word) throw new Error(`no "Encrypt system" box found in ${partitions.png}`);
            const box = {
              left: word.left - 22,
              top: word.top - 4,
              width: 20,
              height: word.height + 8,
            };
            const dark = async (png: string) => darkPixels(decodePngGray(await readFile(png)), box);
            const before = await dark(partitions.png);
            const screen = pngSize(await readFile(partitions.png));
            await clickAt(g.qmp, word.left + word.width / 2, word.top + word.height / 2, screen);
            await new Promise((r) => setTimeout(r, 1500));
            // Ticked: the box shows its check mark (the passphrase fields' grey placeholders
            // do not OCR); Next stays disabled until both passphrases match.
            const ticked = await page({
              name: "4-partitions-encrypt",
              // In the maximised window OCR reads the ticked label as "Encryptsystem".
              expect: [/En\w*pt ?system/],
              ocr: { upscale: 3 },
            });
            expect(await dark(ticked.png), "dark pixels of the ticked box").toBeGreaterThan(
              before + 8,
            );
            await g.serial.poll();
            const typedFrom = g.serial.text().length;
            await pressKeys(g.qmp, "tab");
            await typeText(g.qmp, PASSPHRASE);
            await pressKeys(g.qmp, "tab");
            await typeText(g.qmp, PASSPHRASE);
            // Once the passphrases match, Erase is applied again in a worker thread (the disk
            // reverted, then the layout; Alongside takes the passphrase only when the page is
            // left): the walk waits for the new layout's job queue in the log and then 5 s
            // without a log line (at most 2 minutes) before it goes on, as a user who reads would.
            if (!laptop) {
              const settled = Date.now();
              let seen = "";
              let quietSince = Date.now();
              while (Date.now() - settled < 120_000) {
                await new Promise((r) => setTimeout(r, 1000));
                await g.serial.poll();
                const now = calamaresLogLines(g.serial.text().slice(typedFrom)).join("\n");
                if (now !== seen) {
                  seen = now;
                  quietSince = Date.now();
                } else if (
                  /# Queue:/.test(
                    seen.slice(Math.max(0, seen.lastIndexOf("passphrase mismatch"))),
                  ) &&
                  Date.now() - quietSince >= 5000
                ) {
                  break;
                }
              }
              timings["passphrase-settled"] = Math.round((Date.now() - settled) / 1000);
            }
          }

          // The full name field has the focus on arrival. Next can be disabled for a while:
          // once the passphrases match, Calamares computes the layout again (the root becomes
          // LUKS2 in the preview). An extra press on the users page does nothing: its Next
          // stays disabled until the fields are filled.
          for (let attempt = 1; ; attempt++) {
            await pressKeys(g.qmp, "alt-n");
            try {
              await page({
                name: "5-users-empty",
                expect: ["What is your name?", "Choose a password"],
                timeoutMs: 30_000,
              });
              break;
            } catch (err) {
              await failIfCalamaresCrashed("before the users page");
              if (attempt >= 4) throw err;
            }
          }
          await pressKeys(g.qmp, "ctrl-a");
          await typeText(g.qmp, FULL_NAME);
          await pressKeys(g.qmp, "tab ctrl-a"); // login name (Calamares suggested one)
          await typeText(g.qmp, LOGIN);
          await pressKeys(g.qmp, "tab tab ctrl-a"); // keep the host name, on to the password
          await typeText(g.qmp, PASSWORD);
          await pressKeys(g.qmp, "tab ctrl-a");
          await typeText(g.qmp, PASSWORD);
          const users = await page({
            name: "5-users",
            // hostname template "particleos-${product}" (product: the DMI product name).
            expect: [FULL_NAME, new RegExp(`\\b${LOGIN}\\b`), /particleos-[a-z0-9]+/],
            reject: USERS_PAGE_COMPLAINTS,
          });
          lap("users");
          const hostname = /particleos-[a-z0-9-]+/.exec(users.text)?.[0];

          await pressKeys(g.qmp, "alt-n");
          const summary = await page({
            name: "6-summary",
            expect: [
              "This is an overview of what will happen",
              "Set timezone to America/New York",
              /Keyboard layout has been set to English \(US\)/,
              // Erase and Alongside "install ParticleOS 0.1.0"; Replace "Replace a partition on
              // disk /dev/vda (vda) with ParticleOS 0.1.0"; Manual names no product there.
              ...(manual
                ? []
                : [oldPc ? `with ${PRODUCT} ${VERSION}` : `install ${PRODUCT} ${VERSION}`]),
              ...(laptop
                ? [
                    // Windows' NTFS (vda3) shrinks; the new partitions go after it.
                    /Resize .*partition .*\/dev\/vda3/,
                  ]
                : oldPc && replaceLinux
                  ? [
                      // Only the old Linux (vda1; vda2 after a UEFI PC's ESP) goes; the layout
                      // is created in its space.
                      new RegExp(
                        `Delet(?:e|ing) partition /dev/vda${ocrDigit(oldPc.old.number)}\\b`,
                      ),
                      /Create new 1 ?MiB partition on \/dev\/vda/,
                    ]
                  : manual && oldPc
                    ? [
                        /\bManual\b/,
                        "on disk /dev/vda",
                        // The old root formatted and installed to, the ESP only mounted.
                        new RegExp(
                          `Format \\d+ ?MiB partition /dev/vda${ocrDigit(oldPc.old.number)} with file system ext4`,
                        ),
                        new RegExp(
                          `Install ${PRODUCT} on ext4 system partition /dev/vda${ocrDigit(oldPc.old.number)}`,
                        ),
                        new RegExp(
                          `partition /dev/vda${ocrDigit(oldPc.esp?.number ?? 1)} with mount point /boot/efi`,
                        ),
                      ]
                    : manual
                      ? [
                          // "Manual partitioning on disk /dev/vda (vda)", which OCR can split.
                          /\bManual\b/,
                          "on disk /dev/vda",
                          /Creating new MSDOS partition table on \/dev\/vda/,
                          /Create new \d+ ?MiB partition on \/dev\/vda.*with file system ext4/,
                        ]
                      : [
                          /Erase disk \/dev\/vda/,
                          /Creating new GPT partition table on \/dev\/vda/,
                          // The 1 MiB BIOS boot partition of the layout (GRUB on BIOS machines with GPT).
                          /Create new 1 ?MiB partition on \/dev\/vda/,
                        ]),
              // Erase and Replace apply the layout (a separate /boot); what Alongside makes in
              // the freed space is proven after the install (the dual-boot checks, the login).
              ...(laptop || manual
                ? []
                : [
                    /Create new \d+ ?MiB partition on \/dev\/vda.*entries boot/,
                    /Create new \d+ ?MiB partition on \/dev\/vda.*entries root/,
                    /Set up new ext4 partition with mount point \/boot\b/,
                  ]),
              encrypt
                ? new RegExp(`Install ${PRODUCT} on new \\S+ system partition`)
                : new RegExp(
                    `Install ${PRODUCT} on ${oldPc && manual ? "" : "new "}ext4 system partition`,
                  ),
              ...(firmware === "bios" ? [] : [/mount point \/boot\/efi/]),
            ],
            reject: [
              ...(firmware === "bios" ? [/\/boot\/efi/] : []),
              // By hand: no /boot (a blank disk: one partition), nothing erased.
              ...(manual ? [/mount point \/boot(?!\/)\b/, /Erase disk/] : []),
              // Beside Windows nothing of it is deleted or formatted (its ESP is reused as is).
              ...(laptop
                ? [
                    /Erase disk/,
                    /Creating new \w+ partition table/,
                    /Delete partition/,
                    /Format partition \S*vda[123]\b/,
                  ]
                : []),
              // Replace keeps the data partition, the ESP (reused as is) and the partition table.
              ...(oldPc
                ? [
                    /Erase disk/,
                    /Creating new \w+ partition table/,
                    ...[oldPc.data, ...(oldPc.esp ? [oldPc.esp] : [])].map(
                      // (Format's summary line puts the size first: "Format 256MiB partition …".)
                      (p) =>
                        new RegExp(
                          `(Delet|Format|Resiz)\\w*(?: \\d+ ?MiB)? partition \\S*vda${p.number}\\b`,
                        ),
                    ),
                  ]
                : []),
            ],
            ocr: { upscale: 3 },
            timeoutMs: 90_000,
          });
          lap("summary");

          // Let live-marker's `tail -F` pass the last log lines on to the serial console.
          await new Promise((r) => setTimeout(r, 5000));
          await g.serial.poll();
          const serial = g.serial.text();
          await writeFile(
            join(artifacts, "calamares.log"),
            `${calamaresLogLines(serial).join("\n")}\n`,
          );
          if (online) {
            // The welcome page's internet requirement was mandatory and met by the registry.
            expect(serial).toMatch(/requirement \d+ "internet" satisfied\? true mandatory\? true/);
          }
          const report = calamaresLogReport(serial);
          await writeFile(
            join(artifacts, "calamares-problems.txt"),
            [
              `# ${report.problems.length} warnings/errors to fix`,
              ...report.problems,
              "",
              `# ${report.ignored.length} ignored as harmless (see HARMLESS_CALAMARES_WARNINGS)`,
              ...report.ignored.map((i) => `${i.text}\n    -> ${i.why}`),
              "",
            ].join("\n"),
          );
          const planned = summary.text
            .split("\n")
            .filter((l) =>
              /partition table|MiB partition|mount point|system partition|Erase disk|boot loader/i.test(
                l,
              ),
            )
            .map((l) => `    ${l.trim()}`)
            .join("\n");
          console.log(
            `${firmware}: walk done in ${timings.summary}s (${JSON.stringify(timings)}); host name ${hostname}; summary:\n${planned}`,
          );
          await writeFile(
            join(artifacts, "walk.json"),
            `${JSON.stringify({ firmware, timings, hostname, problems: report.problems }, null, 2)}\n`,
          );

          expect(
            report.problems,
            `Calamares logged ${report.problems.length} warning(s)/error(s) about its configuration or environment (full log: ${join(artifacts, "calamares.log")}):\n\n${report.problems.join("\n\n")}\n`,
          ).toEqual([]);

          // Install: the checks, partition, mount, our deploy job, users, unmount.
          await pressKeys(g.qmp, "alt-i");
          // The dialog's title is too faint to OCR; its text and buttons are not. "Install
          // Now" has the focus.
          await page({
            name: "7-confirm",
            expect: [/about to make changes to your disk/i, /Install Now/i],
          });
          await pressKeys(g.qmp, "ret");
          const since = g.serial.text().length;
          // Shift does nothing in Calamares; it keeps any screen saver away while it installs.
          const wake = setInterval(() => void pressKeys(g.qmp, "shift").catch(() => {}), 60_000);
          const done = await page({
            name: "8-finished",
            expect: [
              /All done/i,
              new RegExp(
                `${PRODUCT} ${VERSION.replace(/[.]/g, "\\.")} has been (installed|set up)`,
                "i",
              ),
            ],
            reject: [/Installation Failed/i, /Setup Failed/i],
            timeoutMs: 25 * 60_000,
            intervalMs: 15_000,
          }).finally(() => clearInterval(wake));
          lap("installed");
          expect(done.text).toContain(PRODUCT);
          await new Promise((r) => setTimeout(r, 5000));
          await g.serial.poll();
          const installLog = calamaresLogLines(g.serial.text().slice(since));
          await writeFile(join(artifacts, "calamares-install.log"), `${installLog.join("\n")}\n`);
          // The origin records image.track (what the system updates from), else image.reference.
          const reference =
            (await loadConfig(EXAMPLE_PROFILE)).config.image?.track ??
            (online ? ONLINE_REFERENCE : lock.reference);
          const deployLog = installLog.join("\n");
          if (online) {
            expect(deployLog).toContain(`--pull ${ONLINE_REPOSITORY}@${lock.digest}`);
            expect(deployLog).toMatch(/atomiso-progress [\d.]+ Downloading the system image/);
          } else {
            expect(deployLog).toContain("--layout /run/live/medium/atomiso/payload");
          }
          if (encrypt) expect(deployLog).toMatch(/--karg rd\.luks\.uuid=[0-9a-f-]{36}/);
          await guest.stop();
          guest = undefined;
          if (laptop) {
            const found = await dualBootFindings(target, laptop.record, laptop.vars);
            await writeFile(
              join(artifacts, "boot-order.txt"),
              `${describeBootOrder(found.bootOrder)}\n`,
            );
            await writeFile(join(artifacts, "grub.cfg"), found.grubCfg);
            console.log(
              `${firmware}: BootOrder after the install:\n${describeBootOrder(found.bootOrder)}`,
            );
            expectDualBoot(found, laptop.record, PRODUCT);
          }
          if (oldPc) {
            const kept = await verifyLinuxDisk(target, oldPc);
            await writeFile(join(artifacts, "data-partition.txt"), `${kept.e2fsck}\n`);
            expect(kept.differences, "the data partition (and ESP) after the install").toEqual([]);
          }
          if (oldPc?.esp && oldPcVars) {
            // The new system's entry first, on the reused ESP (in EFI/debian, the replaced
            // system's folder, when the image boots through Debian's signed GRUB: the old
            // entry to that loader is then the new one), never in the user's tool folder.
            const order = orderedEntries(bootConfig(await readVarStore(oldPcVars)));
            const described = describeBootOrder(order);
            await writeFile(join(artifacts, "boot-order.txt"), `${described}\n`);
            console.log(`${firmware}: BootOrder after the install:\n${described}`);
            expectNewSystemFirst(order, oldPc.esp, PRODUCT, "tools");
          }

          const booted = await bootInstalled({
            firmware,
            target,
            runDir: join(artifacts, "installed-boot"),
            // The firmware entry the install made (the removable path is Windows' own loader).
            ...(laptop ? { ovmfVarsFile: laptop.vars } : {}),
            ...(oldPcVars ? { ovmfVarsFile: oldPcVars } : {}),
            user: LOGIN,
            password: PASSWORD,
            ...(encrypt ? { passphrase: PASSPHRASE } : {}),
            // Short output lines (see test/boot/install.test.ts).
            commands: [
              'echo "sysroot-dev=$(findmnt -n -o SOURCE /sysroot)"',
              "grep -o ' ostree=/ostree/boot[.][01]/particleos/' /proc/cmdline",
              "ostree admin status | grep -o '^[*] particleos'",
              'echo "user=$(id -un) groups=$(id -nG)"',
              'echo "host=$(hostname)"',
              'echo "zone=$(readlink /etc/localtime)"',
              "grep -h -o '^image-reference=.*' /ostree/deploy/particleos/deploy/*.origin",
              // Manual: the disk's table and how many partitions it has (one: no /boot).
              'echo "table=$(lsblk -dno PTTYPE /dev/vda) partitions=$(lsblk -rno TYPE /dev/vda | grep -c part)"',
            ],
          });
          lap("installed-login");
          console.log(
            `${firmware}: installed with Calamares and logged in (${JSON.stringify(timings)})`,
          );
          const out = booted.output;
          expect(out).toContain(" ostree=/ostree/boot.");
          expect(out).toMatch(/^\* particleos$/m);
          expect(out).toMatch(new RegExp(`^user=${LOGIN} groups=.*\\bsudo\\b`, "m"));
          if (hostname) expect(out).toMatch(new RegExp(`^host=${hostname}$`, "m"));
          expect(out).toMatch(/^zone=.*America\/New_York$/m);
          expect(out).toMatch(
            encrypt
              ? /^sysroot-dev=\/dev\/mapper\/luks-[0-9a-f-]{36}$/m
              : /^sysroot-dev=\/dev\/vda\d$/m,
          );
          expect(out).toMatch(
            new RegExp(`^image-reference=${reference.replace(/[.]/g, "\\.")}$`, "m"),
          );
          if (manual && oldPc) {
            // Nothing created or deleted: the ESP, the old root (now ours) and the data.
            expect(out).toMatch(/^table=gpt partitions=3$/m);
            expect(out).toMatch(new RegExp(`^sysroot-dev=/dev/vda${oldPc.old.number}$`, "m"));
          } else if (manual) {
            expect(out).toMatch(/^table=dos partitions=1$/m);
            expect(out).toMatch(/^sysroot-dev=\/dev\/vda1$/m);
          }
        } finally {
          await guest?.stop();
          await registry?.signed?.close();
          if (registry) await stopRegistry(registry.registry);
          await rm(scratch, { recursive: true, force: true });
        }
      },
      60 * 60_000,
    );
  }
});

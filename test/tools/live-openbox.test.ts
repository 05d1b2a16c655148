// The installer session's openbox configuration, run by the real openbox: installer-scripts/
// live/openbox-rc merges the fragments src/render/live-session.ts renders into Debian's own
// rc.xml (the host's openbox package is the same 3.6.1 as trixie's), xmllint checks the result
// is well-formed, then openbox runs with it on a virtual X server (Xvfb) and xdotool presses
// Super+Alt+S. The binding must run its command (with [live] accessibility) or nothing
// (without). The command is the one thing changed in the merged file: the live system's
// /usr/libexec/atomiso/screen-reader becomes a script here that records its arguments
// (Orca itself is proven in the boot tier, test/boot/live-iso.test.ts). On the same X server the
// real hsetroot paints the screen with the colour installer-session reads, read back from Xvfb's
// framebuffer file.
// Not checked here: openbox's rc.xsd, which its own rc.xml fails (outdated namespace and
// patterns), so it proves nothing.
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeTree } from "../../src/render/file-tree.js";
import {
  OPENBOX_FRAGMENTS,
  renderLiveSessionFiles,
  SESSION_BACKGROUND,
} from "../../src/render/live-session.js";
import { run } from "../../src/tools/exec.js";
import { type SpawnedProcess, spawnProcess } from "../../src/tools/spawn.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const COMMAND = "/usr/libexec/atomiso/screen-reader toggle";

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * The colour of one pixel of an XWD file as Xvfb writes its screen (ZPixmap, 32 bits per
 * pixel, masks 0xff0000/0xff00/0xff): header fields are big-endian CARD32s.
 */
async function readPixel(xwd: string, x: number, y: number): Promise<string> {
  const data = await readFile(xwd);
  const field = (i: number) => data.readUInt32BE(i * 4);
  const [headerSize, byteOrder, bitsPerPixel, bytesPerLine, ncolors] = [
    field(0),
    field(7),
    field(11),
    field(12),
    field(19),
  ];
  if (bitsPerPixel !== 32 || field(14) !== 0xff0000) throw new Error("unexpected XWD layout");
  const at = headerSize + ncolors * 12 + y * bytesPerLine + x * 4;
  const pixel = byteOrder === 0 ? data.readUInt32LE(at) : data.readUInt32BE(at);
  return `#${(pixel & 0xffffff).toString(16).padStart(6, "0")}`;
}

async function freeDisplay(): Promise<number> {
  for (let n = 90 + Math.floor(Math.random() * 100); ; n++) {
    if (!(await exists(`/tmp/.X11-unix/X${n}`)) && !(await exists(`/tmp/.X${n}-lock`))) return n;
  }
}

describe("the installer session's openbox configuration (real openbox on Xvfb)", async () => {
  const work = await mkdtemp(join(tmpdir(), "atomiso-openbox-"));
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  /** The merged rc.xml for this choice, with the screen reader command made observable. */
  async function mergedRc(accessibility: boolean): Promise<{ rc: string; record: string }> {
    const dir = join(work, accessibility ? "with" : "without");
    await writeTree(dir, renderLiveSessionFiles("live", accessibility));
    const rc = join(dir, "rc.xml");
    await run([
      "installer-scripts/live/openbox-rc",
      "/etc/xdg/openbox/rc.xml",
      join(dir, OPENBOX_FRAGMENTS),
      rc,
    ]);
    await run(["xmllint", "--noout", rc]);
    const text = await readFile(rc, "utf8");
    expect(text.split(COMMAND).length - 1).toBe(accessibility ? 1 : 0);
    // Openbox's own bindings are all still there, ours come first in <keyboard>.
    const original = await readFile("/etc/xdg/openbox/rc.xml", "utf8");
    expect(text.split("<keybind ").length - 1).toBe(
      original.split("<keybind ").length - 1 + (accessibility ? 1 : 0),
    );
    expect(text).toContain('<application class="stalonetray">');
    const record = join(dir, "pressed");
    const fake = join(dir, "screen-reader");
    await writeFile(fake, `#!/bin/sh\necho "$@" >>'${record}'\n`);
    await chmod(fake, 0o755);
    await writeFile(rc, text.replace(COMMAND, `${fake} toggle`));
    return { rc, record };
  }

  /**
   * Runs openbox with `rc` on a new Xvfb, runs `act` there, stops both again. Xvfb keeps its
   * screen in `fbdir`/Xvfb_screen0, an XWD file (readPixel).
   */
  async function withOpenbox(
    rc: string,
    act: (env: Record<string, string>, fbdir: string) => Promise<void>,
  ): Promise<void> {
    const display = `:${await freeDisplay()}`;
    const env = { DISPLAY: display };
    const fbdir = await mkdtemp(join(work, "fb-"));
    const xvfb = spawnProcess([
      "Xvfb",
      display,
      "-screen",
      "0",
      "1024x768x24",
      "-fbdir",
      fbdir,
      "-nolisten",
      "tcp",
      // No server reset when the last client leaves: the readiness probe (xprop) is one, and a
      // client connecting during the reset (openbox, under load) is refused.
      "-noreset",
    ]);
    let openbox: SpawnedProcess | undefined;
    try {
      // Xvfb accepts clients once the root window answers (its socket appears earlier).
      for (let i = 0; ; i++) {
        const up = await run(["xprop", "-root", "-len", "0"], { env, okExitCodes: [0, 1] });
        if (up.exitCode === 0) break;
        if (i > 200) throw new Error("Xvfb did not start");
        await sleep(100);
      }
      const errors: string[] = [];
      openbox = spawnProcess(["openbox", "--config-file", rc, "--sm-disable"], {
        env,
        onLine: (line) => errors.push(line),
      });
      // openbox has taken the screen once it names itself on the root window.
      for (let i = 0; ; i++) {
        const r = await run(["xprop", "-root", "_NET_SUPPORTING_WM_CHECK"], {
          env,
          okExitCodes: [0, 1],
        });
        if (/window id/.test(r.stdout)) break;
        if (i > 100) throw new Error(`openbox did not start: ${errors.join("\n")}`);
        await sleep(100);
      }
      await act(env, fbdir);
      // openbox reports a bad key name or action in its configuration on stderr (the Debian
      // menu file that update-menus writes is missing on this host, and not ours).
      const complaints = errors.filter((l) => /Openbox-Message|Invalid|Unable/i.test(l));
      expect(complaints.filter((l) => !/valid menu file/.test(l))).toEqual([]);
    } finally {
      await openbox?.stop();
      await xvfb.stop();
    }
  }

  async function pressSuperAltS(rc: string): Promise<void> {
    await withOpenbox(rc, async (env) => {
      await run(["xdotool", "key", "super+alt+s"], { env });
      await sleep(2000);
    });
  }

  it("maximises Calamares' window and no other", async () => {
    const { rc } = await mergedRc(false);
    await withOpenbox(rc, async (env) => {
      // X clients named as Calamares' window is (WM_CLASS res_name "calamares") and not.
      const clients = ["calamares", "nm-tray"].map((name) =>
        spawnProcess(["xmessage", "-name", name, "-geometry", "300x100+10+10", name], { env }),
      );
      try {
        const maximised = async (name: string) => {
          for (let i = 0; ; i++) {
            const found = await run(["xdotool", "search", "--classname", `^${name}$`], {
              env,
              okExitCodes: [0, 1],
            });
            const id = found.stdout.trim().split("\n")[0];
            if (id) {
              await sleep(500); // openbox applies its rules as it maps the window
              const state = await run(["xprop", "-id", id, "_NET_WM_STATE"], { env });
              return (
                /_NET_WM_STATE_MAXIMIZED_VERT/.test(state.stdout) &&
                /_NET_WM_STATE_MAXIMIZED_HORZ/.test(state.stdout)
              );
            }
            if (i > 100) throw new Error(`no ${name} window appeared`);
            await sleep(100);
          }
        };
        expect(await maximised("calamares")).toBe(true);
        expect(await maximised("nm-tray")).toBe(false);
      } finally {
        for (const c of clients) await c.stop();
      }
    });
  }, 60_000);

  it("paints the screen in the branding's colour (hsetroot, as installer-session runs it)", async () => {
    const dir = join(work, "background");
    await writeTree(dir, renderLiveSessionFiles("live", false, "#16324f"));
    const colour = (await readFile(join(dir, SESSION_BACKGROUND), "utf8")).trim();
    const { rc } = await mergedRc(false);
    await withOpenbox(rc, async (env, fbdir) => {
      const screen = join(fbdir, "Xvfb_screen0");
      // Xvfb's own root first (not the colour), so the reading below is hsetroot's. (Not the
      // middle of the screen: Xvfb draws openbox's pointer there into the same picture.)
      expect(await readPixel(screen, 100, 600)).not.toBe("#16324f");
      await run(["hsetroot", "-solid", colour], { env });
      // The server paints once it has handled the request, not when hsetroot exits.
      for (let i = 0; i < 50 && (await readPixel(screen, 100, 600)) !== colour; i++) {
        await sleep(100);
      }
      for (const [x, y] of [
        [0, 0],
        [100, 600],
        [1023, 767],
      ] as const) {
        expect(await readPixel(screen, x, y)).toBe("#16324f");
      }
    });
  }, 60_000);

  it("runs the screen reader toggle on Super+Alt+S with [live] accessibility", async () => {
    const { rc, record } = await mergedRc(true);
    await pressSuperAltS(rc);
    expect(await readFile(record, "utf8")).toBe("toggle\n");
  }, 60_000);

  it("binds nothing to Super+Alt+S without it", async () => {
    const { rc, record } = await mergedRc(false);
    await pressSuperAltS(rc);
    expect(await exists(record)).toBe(false);
  }, 60_000);
});

// Hostile profiles, as a careful attacker would write them (issue 11): each is either refused
// by `atomiso validate` (the real CLI: loadConfig and the Calamares check) with the offending
// key named, or accepted and rendered into files that their own parsers read back unchanged.
import { appendFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "smol-toml";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { calamaresOptionsFor } from "../../src/config/calamares-options.js";
import { loadConfig } from "../../src/config/load.js";
import type { ImageLock } from "../../src/image/lock.js";
import { renderInstallPlan } from "../../src/install/install-plan.js";
import { renderCalamares } from "../../src/render/calamares/render.js";
import { renderGrubCfg } from "../../src/render/grub-cfg.js";
import { renderLiveFiles } from "../../src/render/live-files.js";
import { sourcesLine } from "../../src/stages/bootstrap.js";
import {
  qssRules,
  readDesktopEntry,
  readGrubCfg,
  readOsRelease,
  readQml,
  readYaml,
} from "./helpers/read-back.js";

// biome-ignore lint/suspicious/noExplicitAny: profiles are edited as raw TOML data
type Profile = Record<string, any>;

interface Case {
  name: string;
  edit?: (p: Profile) => void;
  /** Files to create in the profile folder (which holds branding/ already). */
  files?: (dir: string) => Promise<void>;
  /** Refused: the key the refusal must name, and optionally what the message says. */
  refuse?: string;
  message?: RegExp;
}

const branding = join(import.meta.dirname, "../../examples/particleos/branding");
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]);

function baseProfile(): Profile {
  return {
    product: { name: "Test OS", id: "testos", version: "1.0" },
    live: {},
    iso: { volume_id: "TESTOS" },
    branding: {
      folder: "branding",
      slides: [{ image: "slide-atomic.png", caption: "A slide." }],
    },
    installer: { kernel_args: ["console=tty0"] },
  };
}

function withImage(p: Profile): void {
  p.image = {
    containerfile: "Containerfile",
    context: ".",
    reference: "registry.example.org/os/system:1.0",
  };
}

/** An ISO 9660 primary volume descriptor with this volume id (enough for the output check). */
function fakeIso(volumeId: string): Buffer {
  const buf = Buffer.alloc(18 * 2048);
  buf[16 * 2048] = 1;
  buf.write("CD001", 16 * 2048 + 1, "latin1");
  buf.write(volumeId.padEnd(32, " "), 16 * 2048 + 40, "latin1");
  return buf;
}

const set =
  (path: string, value: unknown) =>
  (p: Profile): void => {
    const keys = path.split(".");
    let node = p;
    for (const k of keys.slice(0, -1)) {
      node[k] ??= {};
      node = node[k];
    }
    node[keys.at(-1) as string] = value;
  };
const repo = (over: Record<string, unknown>) => (p: Profile) => {
  p.live.repositories = [
    { uri: "http://deb.example.org/debian", suite: "trixie", signed_by: "key.asc", ...over },
  ];
};
const keyFile = async (dir: string) =>
  writeFile(
    join(dir, "key.asc"),
    "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQ==\n-----END PGP PUBLIC KEY BLOCK-----\n",
  );

const CASES: Case[] = [
  // Control characters and unprintable names (they reached grub.cfg, the .desktop file, os-release).
  {
    name: "newline in product.name adds a GRUB command",
    edit: set("product.name", "X\nset root=(hd9)"),
    refuse: "product.name",
    message: /U\+000A/,
  },
  {
    name: "NUL in product.name",
    edit: set("product.name", "X\u0000Y"),
    refuse: "product.name",
    message: /U\+0000/,
  },
  {
    name: "ESC sequence in product.name",
    edit: set("product.name", "X\u001b[2J"),
    refuse: "product.name",
  },
  {
    name: "carriage return in product.name",
    edit: set("product.name", "X\rName=Evil"),
    refuse: "product.name",
  },
  { name: "tab in product.name", edit: set("product.name", "X\tY"), refuse: "product.name" },
  {
    name: "bidi override in product.name",
    edit: set("product.name", "X\u202eSO.exe"),
    refuse: "product.name",
  },
  {
    name: "line separator U+2028 in product.name",
    edit: set("product.name", "X\u2028Y"),
    refuse: "product.name",
  },
  {
    name: "C1 control U+0085 in product.name",
    edit: set("product.name", "X\u0085Y"),
    refuse: "product.name",
  },
  {
    name: "product.name with a leading blank",
    edit: set("product.name", " X"),
    refuse: "product.name",
  },
  {
    name: "product.name of 65 characters",
    edit: set("product.name", "x".repeat(65)),
    refuse: "product.name",
    message: /at most 64/,
  },
  {
    name: "newline in a slide caption",
    edit: (p) => {
      p.branding.slides[0].caption = 'a")\nQt.quit()\n//';
    },
    refuse: "branding.slides[0].caption",
  },
  {
    name: "newline in a build argument",
    edit: (p) => {
      withImage(p);
      p.image.build_args = { A: "x\ny" };
    },
    refuse: "image.build_args.A",
  },
  {
    name: "NUL in a hook path",
    edit: set("live.hooks", { post: ["hook\u0000.sh"] }),
    refuse: "live.hooks.post[0]",
  },
  // Kernel arguments: GRUB and shell metacharacters.
  {
    name: "iso.kernel_args with a newline and a menuentry",
    edit: set("iso.kernel_args", ["quiet\n}\nmenuentry evil {"]),
    refuse: "iso.kernel_args[0]",
  },
  {
    name: "iso.kernel_args with ;",
    edit: set("iso.kernel_args", ["quiet;reboot"]),
    refuse: "iso.kernel_args[0]",
  },
  {
    name: "iso.kernel_args with $",
    edit: set("iso.kernel_args", ["root=$root"]),
    refuse: "iso.kernel_args[0]",
  },
  {
    name: "iso.kernel_args with }",
    edit: set("iso.kernel_args", ["}"]),
    refuse: "iso.kernel_args[0]",
  },
  {
    name: "iso.kernel_args with a blank",
    edit: set("iso.kernel_args", ["quiet splash"]),
    refuse: "iso.kernel_args[0]",
  },
  {
    name: "iso.kernel_args with quotes",
    edit: set("iso.kernel_args", ['init="/bin/sh -c id"']),
    refuse: "iso.kernel_args[0]",
  },
  {
    name: "iso.kernel_args empty entry",
    edit: set("iso.kernel_args", ["console=tty0", ""]),
    refuse: "iso.kernel_args[1]",
  },
  {
    name: "installer.kernel_args with ; (into install.json and boot entries)",
    edit: set("installer.kernel_args", ["console=ttyS0;reboot"]),
    refuse: "installer.kernel_args[0]",
  },
  {
    name: "installer.kernel_args with a backtick",
    edit: set("installer.kernel_args", ["a=`id`"]),
    refuse: "installer.kernel_args[0]",
  },
  {
    name: "installer.kernel_args with a pipe",
    edit: set("installer.kernel_args", ["a|b"]),
    refuse: "installer.kernel_args[0]",
  },
  {
    name: "installer.kernel_args with {",
    edit: set("installer.kernel_args", ["${x}"]),
    refuse: "installer.kernel_args[0]",
  },
  {
    name: "installer.kernel_args as a string",
    edit: set("installer.kernel_args", "quiet"),
    refuse: "installer.kernel_args",
    message: /expected an array, found the string "quiet"/,
  },
  // Files outside the profile, symlinks, contents.
  {
    name: "branding.logo ../ to /etc/shadow",
    edit: set("branding.logo", "../../../../../../../../etc/shadow"),
    refuse: "branding.logo",
    message: /outside the profile's folder/,
  },
  {
    name: "branding.icon as a symlink to /etc/passwd",
    files: (d) => symlink("/etc/passwd", join(d, "branding/evil.png")),
    edit: set("branding.icon", "evil.png"),
    refuse: "branding.icon",
    message: /symbolic link to \/etc\/passwd/,
  },
  {
    name: "branding folder as a symlink to /etc",
    files: (d) => symlink("/etc", join(d, "etc-link")),
    edit: set("branding.folder", "etc-link"),
    refuse: "branding.folder",
  },
  {
    name: "slide image as a symlink to /etc/shadow",
    files: (d) => symlink("/etc/shadow", join(d, "branding/shadow.png")),
    edit: (p) => {
      p.branding.slides[0].image = "shadow.png";
    },
    refuse: "branding.slides[0].image",
  },
  {
    name: "slide image ../ out of the profile",
    files: async (d) => {
      await mkdir(join(d, "../outside"), { recursive: true });
      await writeFile(join(d, "../outside/x.png"), PNG);
    },
    edit: (p) => {
      p.branding.slides[0].image = "../../outside/x.png";
    },
    refuse: "branding.slides[0].image",
  },
  {
    name: 'slide image name with ")+…+(" (JavaScript in the slideshow)',
    edit: (p) => {
      p.branding.slides[0].image = 'a.png")+Qt.quit()+("';
    },
    refuse: "branding.slides[0].image",
  },
  {
    name: "slide image that is a text file named .png",
    files: (d) => writeFile(join(d, "branding/fake.png"), "root:x:0:0::/root:/bin/sh\n"),
    edit: (p) => {
      p.branding.slides[0].image = "fake.png";
    },
    refuse: "branding.slides[0].image",
    message: /not a PNG, JPEG or SVG/,
  },
  {
    name: "slide .svg holding a PNG",
    files: (d) => writeFile(join(d, "branding/x.svg"), PNG),
    edit: (p) => {
      p.branding.slides[0].image = "x.svg";
    },
    refuse: "branding.slides[0].image",
    message: /expected SVG/,
  },
  {
    name: "JPEG logo with [live] splash (Plymouth reads PNG only)",
    files: (d) => writeFile(join(d, "branding/logo.jpg"), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0])),
    edit: (p) => {
      p.branding.logo = "logo.jpg";
      p.live.splash = true;
    },
    refuse: "branding.logo",
    message: /is a JPEG image; expected PNG/,
  },
  {
    name: "logo that is not an image",
    files: (d) => writeFile(join(d, "branding/text.png"), "hello"),
    edit: set("branding.logo", "text.png"),
    refuse: "branding.logo",
  },
  { name: 'live.overlay = "/"', edit: set("live.overlay", "/"), refuse: "live.overlay" },
  { name: 'live.overlay = "/etc"', edit: set("live.overlay", "/etc"), refuse: "live.overlay" },
  {
    name: "live.overlay as a symlink to /etc",
    files: (d) => symlink("/etc", join(d, "overlay")),
    edit: set("live.overlay", "overlay"),
    refuse: "live.overlay",
  },
  {
    name: "live.overlay = the profile folder's parent",
    edit: set("live.overlay", ".."),
    refuse: "live.overlay",
  },
  {
    name: "signed_by key outside the profile",
    edit: repo({ signed_by: "/etc/passwd" }),
    refuse: "live.repositories[0].signed_by",
  },
  {
    name: "signed_by as a symlink to /etc/shadow",
    files: (d) => symlink("/etc/shadow", join(d, "key.asc")),
    edit: repo({}),
    refuse: "live.repositories[0].signed_by",
  },
  {
    name: "hook outside the profile (/bin/sh)",
    edit: set("live.hooks", { pre: ["/bin/sh"] }),
    refuse: "live.hooks.pre[0]",
  },
  {
    name: "image.containerfile = /etc/passwd",
    edit: (p) => {
      withImage(p);
      p.image.containerfile = "/etc/passwd";
    },
    refuse: "image.containerfile",
  },
  {
    name: 'image.context = "/"',
    edit: (p) => {
      withImage(p);
      p.image.context = "/";
    },
    refuse: "image.context",
  },
  {
    name: 'files.extra_roots = ["/"]',
    edit: set("files.extra_roots", ["/"]),
    refuse: "files.extra_roots[0]",
  },
  {
    name: 'files.extra_roots = ["/etc"] to reach /etc/shadow',
    edit: (p) => {
      p.files = { extra_roots: ["/etc"] };
      p.branding.logo = "/etc/shadow";
    },
    refuse: "files.extra_roots[0]",
  },
  {
    name: "signed_by holding a private key (copied world-readable)",
    files: (d) => writeFile(join(d, "key.asc"), "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQ==\n"),
    edit: repo({}),
    refuse: "live.repositories[0].signed_by",
    message: /private key/,
  },
  {
    name: "signed_by that is not a key",
    files: (d) => writeFile(join(d, "key.gpg"), "root:x:0:0::/root:/bin/sh\n"),
    edit: repo({ signed_by: "key.gpg" }),
    refuse: "live.repositories[0].signed_by",
    message: /not a binary public key/,
  },
  {
    name: "accepted: a repository with an armored public key and a query in its URI",
    files: keyFile,
    edit: repo({
      uri: "https://deb.example.org/debian?x=1&y=%20",
      components: ["main", "contrib"],
    }),
  },
  // Outputs.
  {
    name: 'iso.output = "/etc/passwd"',
    edit: set("iso.output", "/etc/passwd"),
    refuse: "iso.output",
  },
  {
    name: 'iso.output = "/etc/evil.iso" (system folder)',
    edit: set("iso.output", "/etc/evil.iso"),
    refuse: "iso.output",
    message: /system folder/,
  },
  {
    name: "iso.output over an existing file that is not an ISO",
    files: (d) => writeFile(join(d, "mine.iso"), "not an iso"),
    edit: set("iso.output", "mine.iso"),
    refuse: "iso.output",
    message: /not an ISO 9660 image/,
  },
  {
    name: "iso.output as a symlink to /etc/passwd",
    files: (d) => symlink("/etc/passwd", join(d, "out.iso")),
    edit: set("iso.output", "out.iso"),
    refuse: "iso.output",
    message: /symbolic link/,
  },
  {
    name: "iso.output over another product's ISO",
    files: (d) => writeFile(join(d, "other.iso"), fakeIso("OTHER")),
    edit: set("iso.output", "other.iso"),
    refuse: "iso.output",
    message: /"OTHER"/,
  },
  {
    name: "product.version with ../ (moves the ISO)",
    edit: set("product.version", "../../../etc/x"),
    refuse: "product.version",
  },
  {
    name: "product.version with a newline (into the ISO's name)",
    edit: set("product.version", "1.0\nx"),
    refuse: "product.version",
  },
  {
    name: "product.version with a blank",
    edit: set("product.version", "1 0"),
    refuse: "product.version",
  },
  { name: "product.version ..", edit: set("product.version", "1..2"), refuse: "product.version" },
  {
    name: "product.version with ~ (not an image tag)",
    edit: set("product.version", "2.0~rc1"),
    refuse: "product.version",
  },
  // Accounts.
  {
    name: 'live.user = "root" (would lose its password)',
    edit: set("live.user", "root"),
    refuse: "live.user",
    message: /new unprivileged account/,
  },
  { name: 'live.user = "sddm"', edit: set("live.user", "sddm"), refuse: "live.user" },
  { name: 'live.user = "messagebus"', edit: set("live.user", "messagebus"), refuse: "live.user" },
  { name: 'live.user = "_apt"', edit: set("live.user", "_apt"), refuse: "live.user" },
  { name: 'live.user = "daemon"', edit: set("live.user", "daemon"), refuse: "live.user" },
  {
    name: 'live.user = "sudo" (a base group)',
    edit: set("live.user", "sudo"),
    refuse: "live.user",
  },
  { name: 'live.user = "systemd-foo"', edit: set("live.user", "systemd-foo"), refuse: "live.user" },
  // URIs.
  {
    name: "mirror with a space adds a suite to the sources line",
    edit: set("live.mirror", "http://deb.debian.org/debian sid"),
    refuse: "live.mirror",
  },
  {
    name: "repository uri with a space",
    edit: repo({ uri: "http://deb.example.org/debian sid main" }),
    files: keyFile,
    refuse: "live.repositories[0].uri",
  },
  {
    name: "mirror with credentials",
    edit: set("live.mirror", "http://user:secret@mirror.example.org/debian"),
    refuse: "live.mirror",
    message: /user name or password/,
  },
  {
    name: "internet_check_url with credentials (written into the ISO)",
    edit: (p) => {
      p.installer.requirements = { internet_check_url: "https://bot:token@ghcr.io/v2/" };
    },
    refuse: "installer.requirements.internet_check_url",
  },
  {
    name: "product.url javascript:",
    edit: set("product.url", "javascript:alert(1)"),
    refuse: "product.url",
  },
  {
    name: "mirror with # (the rest of the sources line a comment)",
    edit: set("live.mirror", "http://deb.debian.org/debian#x"),
    refuse: "live.mirror",
    message: /apt reads/,
  },
  { name: "mirror file:///etc", edit: set("live.mirror", "file:///etc"), refuse: "live.mirror" },
  {
    name: "product.url with a quote",
    edit: set("product.url", 'https://x.org/"onload="x'),
    refuse: "product.url",
  },
  // Images and other names.
  {
    name: "image.tag with a blank and a flag",
    edit: (p) => {
      withImage(p);
      p.image.tag = "localhost/x:1 --privileged";
    },
    refuse: "image.tag",
  },
  {
    name: "image.reference without a tag",
    edit: (p) => {
      withImage(p);
      p.image.reference = "registry.example.org/os/system";
    },
    refuse: "image.reference",
  },
  {
    name: "image.reference with upper-case path",
    edit: (p) => {
      withImage(p);
      p.image.reference = "registry.example.org/OS/System:1";
    },
    refuse: "image.reference",
  },
  {
    name: "installer.locale.zone ../ to a file",
    edit: (p) => {
      p.installer.locale = { zone: "../../../etc/shadow" };
    },
    refuse: "installer.locale.zone",
  },
  {
    name: "hostname_template with a command",
    edit: (p) => {
      p.installer.users = { hostname_template: "$(reboot)" };
    },
    refuse: "installer.users.hostname_template",
  },
  {
    name: "installer.users.shell with ;",
    edit: (p) => {
      p.installer.users = { shell: "/bin/sh;reboot" };
    },
    refuse: "installer.users.shell",
  },
  { name: "live.hostname with ;", edit: set("live.hostname", "a;reboot"), refuse: "live.hostname" },
  // The Calamares check (run by the validate command itself, not by loadConfig).
  {
    name: "installer without the users page",
    edit: set("installer.pages", ["welcome", "partition", "summary"]),
    refuse: "installer.pages",
    message: /"users" is missing/,
  },
  {
    name: "a root partition that cannot hold the image twice",
    edit: (p) => {
      p.installer.requirements = { image_gib: 10 };
      p.installer.partition = { root_min_gib: 8 };
    },
    refuse: "installer.partition.root_min_gib",
  },
  // Types: what was found and what was expected.
  {
    name: "product.name as a number",
    edit: set("product.name", 5),
    refuse: "product.name",
    message: /expected a string, found the integer 5/,
  },
  {
    name: "iso.boot_timeout as a string",
    edit: set("iso.boot_timeout", "5"),
    refuse: "iso.boot_timeout",
    message: /expected a number, found the string "5"/,
  },
  {
    name: "iso.compression_level 1.5",
    edit: set("iso.compression_level", 1.5),
    refuse: "iso.compression_level",
    message: /found the number 1.5/,
  },
  {
    name: "live.suite as a table",
    edit: set("live.suite", { a: 1 }),
    refuse: "live.suite",
    message: /found a table/,
  },
  {
    name: "branding.slides as a string",
    edit: set("branding.slides", "x.png"),
    refuse: "branding.slides",
    message: /expected an array/,
  },
  // Accepted: rendered and read back unchanged by each target's parser.
  { name: 'accepted: product.name with "quotes"', edit: set("product.name", 'ACME "Quoted" OS') },
  { name: 'accepted: product.name ")+Qt.quit()+("', edit: set("product.name", '")+Qt.quit()+("') },
  {
    name: "accepted: product.name closing a QSS comment",
    edit: set("product.name", "*/ QWidget { background: red } /*"),
  },
  {
    name: "accepted: product.name with $ ` and ${}",
    edit: set("product.name", "$(reboot) ${root} `id`"),
  },
  {
    name: "accepted: product.name with backslashes",
    edit: set("product.name", "Back\\slash\\n\\"),
  },
  {
    name: "accepted: product.name like a desktop-entry key",
    edit: set("product.name", "Name=Evil; [Desktop Entry]"),
  },
  {
    name: "accepted: product.name closing a GRUB menu entry",
    edit: set("product.name", "} menuentry evil {"),
  },
  {
    name: "accepted: product.name with rich-text tags",
    edit: set("product.name", '<img src="file:///etc/shadow">'),
  },
  { name: "accepted: product.name in Unicode", edit: set("product.name", "Ünïcödé 名前 🚀") },
  { name: "accepted: product.name with ' and #", edit: set("product.name", "It's #1") },
  {
    name: 'accepted: caption ")+Qt.quit()+("',
    edit: (p) => {
      p.branding.slides[0].caption = '")+Qt.quit()+(" \\" \'`';
    },
  },
  {
    name: "accepted: real kernel arguments",
    edit: set("iso.kernel_args", [
      "console=ttyS0,115200",
      "rd.luks.options=discard",
      "video=1024x768@60",
      "systemd.unit=multi-user.target",
    ]),
  },
  {
    name: "accepted: installer kernel arguments",
    edit: set("installer.kernel_args", ["console=tty0", "console=ttyS0,115200", "quiet"]),
  },
  {
    name: "accepted: product.url with query and fragment",
    edit: set("product.url", "https://example.org/a?b=c&d=$e#f"),
  },
  { name: "accepted: product.version 2.0-rc1.b2", edit: set("product.version", "2.0-rc1.b2") },
  { name: "accepted: live.user installer", edit: set("live.user", "installer") },
  {
    name: "accepted: iso.output over this profile's own ISO",
    files: (d) => writeFile(join(d, "mine.iso"), fakeIso("TESTOS")),
    edit: set("iso.output", "mine.iso"),
  },
  {
    name: "accepted: online payload with a plain internet check URL",
    edit: (p) => {
      withImage(p);
      p.image.payload = "online";
      p.installer.requirements = { internet_check_url: "https://ghcr.io/v2/?x=1&y=2" };
    },
  },
];

const counts = { refused: 0, accepted: 0 };
const dirs: string[] = [];

async function profileDir(c: Case): Promise<{ file: string; dir: string }> {
  const top = await mkdtemp(join(tmpdir(), "atomiso-hostile-"));
  dirs.push(top);
  const dir = join(top, "profile");
  await mkdir(dir);
  await cp(branding, join(dir, "branding"), { recursive: true });
  const p = baseProfile();
  c.edit?.(p);
  if (p.image) await writeFile(join(dir, "Containerfile"), "FROM scratch\n");
  await c.files?.(dir);
  const file = join(dir, "atomiso.toml");
  await writeFile(file, stringify(p));
  return { file, dir };
}

async function validate(file: string): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (m: string) => out.push(m);
  console.error = (m: string) => out.push(m);
  try {
    const code = await main(["node", "atomiso", "-c", file, "validate"]);
    return { code, out: out.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

/** Renders every generated file a profile string reaches and reads each back. */
async function readBack(file: string): Promise<void> {
  const { config: c, dir } = await loadConfig(file);
  const name = c.product.name;
  const grub = readGrubCfg(
    renderGrubCfg({
      productName: name,
      timeout: c.iso.boot_timeout,
      extraKernelArgs: c.iso.kernel_args,
    }),
  );
  expect(grub.entries[0]?.title).toBe(`Install ${name}`);
  expect(grub.entries).toHaveLength(4);
  for (const args of grub.linux)
    expect(args.slice(args.length - c.iso.kernel_args.length)).toEqual(c.iso.kernel_args);

  const live = renderLiveFiles({
    productName: name,
    productId: c.product.id,
    productVersion: c.product.version,
    ...(c.product.url ? { productUrl: c.product.url } : {}),
    suite: c.live.suite,
    user: c.live.user,
  });
  const text = (path: string) => String(live.find((f) => f.path.endsWith(path))?.content);
  expect(readDesktopEntry(text("atomiso-installer.desktop")).Name).toBe(`${name} Installer`);
  const os = readOsRelease(text("etc/os-release"));
  expect(os.NAME).toBe(`${name} Live`);
  expect(os.VERSION_ID).toBe(c.product.version);
  if (c.product.url) expect(os.HOME_URL).toBe(c.product.url);
  expect(text("sudoers.d/10-atomiso-live")).toBe(`${c.live.user} ALL=(ALL:ALL) NOPASSWD: ALL\n`);

  const files = await renderCalamares(calamaresOptionsFor(c, dir));
  const get = (end: string) => String(files.find((f) => f.path.endsWith(end))?.content);
  const qml = readQml(get("show.qml"));
  for (const s of c.branding.slides) expect(qml.strings).toContain(s.caption);
  expect(readQml(get("erase-confirm.qml")).strings.join("\n")).toContain(`installs ${name}.`);
  expect(qssRules(get("stylesheet.qss"))).toBe("\n#mainApp { font-size: 11pt; }\n");
  const desc = readYaml(get("branding.desc")) as { strings: Record<string, string> };
  expect(desc.strings.productName).toBe(name);
  expect(desc.strings.version).toBe(c.product.version);
  const welcome = readYaml(get("modules/welcome.conf")) as {
    requirements: Record<string, unknown>;
  };
  if (c.installer.requirements.internet_check_url)
    expect(welcome.requirements.internetCheckUrl).toBe(c.installer.requirements.internet_check_url);

  // apt's one-line sources format: [options], then URI, suite and components as words; # starts a comment.
  for (const [i, r] of c.live.repositories.entries()) {
    const line = sourcesLine({ ...r, keyFile: join(dir, r.signed_by) }, i);
    const words = line
      .split("#")[0]
      ?.replace(/^deb \[[^\]]*\] /, "")
      .trim()
      .split(/\s+/);
    expect(words).toEqual([r.uri, r.suite, ...r.components]);
  }

  const lock = {
    backend: "ostree",
    reference: "r",
    digest: "d",
    pinned: "p",
    size: 1,
    unpackedSize: 1,
    tlsVerify: true,
  } as unknown as ImageLock;
  const plan = JSON.parse(
    JSON.stringify(
      renderInstallPlan({
        product: { name, id: c.product.id, version: c.product.version },
        installer: c.installer,
        image: { backend: "auto" },
        lock,
      }),
    ),
  ) as { kargs: string[]; product: { name: string } };
  expect(plan.kargs).toEqual(c.installer.kernel_args);
  expect(plan.product.name).toBe(name);
}

describe(`${CASES.length} hostile profiles`, () => {
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
    console.log(
      `hostile profiles: ${CASES.length} cases, ${counts.refused} refused by atomiso validate with the key named, ${counts.accepted} accepted and read back unchanged`,
    );
  });

  it("has at least 60 cases", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(60);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
  });

  for (const c of CASES) {
    it(c.name, async () => {
      const { file } = await profileDir(c);
      const before = await readFile(file, "utf8");
      const { code, out } = await validate(file);
      if (c.refuse) {
        expect(code, out).toBe(2);
        const lines = out.split("\n").filter((l) => l.startsWith(`atomiso.toml: ${c.refuse}: `));
        expect(lines, out).not.toHaveLength(0);
        if (c.message) expect(lines.join("\n")).toMatch(c.message);
        expect(out).not.toMatch(/EINVAL|ENOENT|EACCES|Error:/);
        if (process.env.HOSTILE_SHOW)
          appendFileSync(process.env.HOSTILE_SHOW, `${lines.join("\n")}\n`);
        counts.refused++;
      } else {
        expect(code, out).toBe(0);
        await readBack(file);
        counts.accepted++;
      }
      expect(await readFile(file, "utf8")).toBe(before);
    }, 60_000);
  }
});

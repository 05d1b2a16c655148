// Checks the files a profile names: each must exist with the right kind, and resolve (after
// following symbolic links) inside the profile's folder or one of its declared extra roots
// (files.extra_roots), so a profile cannot pull a host file (/etc/shadow, an SSH key) into the
// ISO. Images are checked by content, system folders are refused as overlays and roots, and the
// ISO output may replace only an ISO atomiso wrote. Every problem names its key.
import { constants } from "node:fs";
import { access, lstat, open, realpath, stat } from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import { resolveFrom } from "./paths.js";
import { formatPath, type Problem } from "./problems.js";
import type { Config } from "./schema.js";

/** Folders that are never an overlay or an extra root (their contents are the host's). */
const SYSTEM_FOLDERS = new Set([
  "/",
  "/bin",
  "/boot",
  "/dev",
  "/etc",
  "/home",
  "/lib",
  "/lib32",
  "/lib64",
  "/libx32",
  "/opt",
  "/proc",
  "/root",
  "/run",
  "/sbin",
  "/srv",
  "/sys",
  "/tmp",
  "/usr",
  "/var",
  "/var/lib",
  "/var/tmp",
]);
/** Trees atomiso never reads profile files from nor writes outputs into. */
const SYSTEM_TREES = [
  "/bin",
  "/boot",
  "/dev",
  "/etc",
  "/lib",
  "/lib32",
  "/lib64",
  "/libx32",
  "/proc",
  "/run",
  "/sbin",
  "/sys",
  "/usr",
  "/var/lib",
  "/var/log",
  "/var/spool",
  "/var/mail",
  "/var/backups",
];

function within(path: string, root: string): boolean {
  return path === root || path.startsWith(root === "/" ? "/" : `${root}${sep}`);
}

/** Never an overlay, branding folder or extra root: a system folder or host configuration. */
export function isSystemFolder(path: string): boolean {
  return (
    SYSTEM_FOLDERS.has(path) ||
    ["/etc", "/proc", "/sys", "/dev", "/boot"].some((t) => within(path, t))
  );
}

/** Never where an output goes (unless inside the profile's folder). */
export function isSystemTree(path: string): boolean {
  return SYSTEM_FOLDERS.has(path) || SYSTEM_TREES.some((t) => within(path, t));
}

type Kind = "file" | "dir" | "exec";
export type ImageType = "png" | "jpeg" | "svg";

/** The image type by content (magic bytes; SVG by its root element), or undefined. */
export async function imageTypeOf(path: string): Promise<ImageType | undefined> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const head = buf.subarray(0, bytesRead);
    if (head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])))
      return "png";
    if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return "jpeg";
    const text = head
      .toString("utf8")
      .replace(/^\uFEFF/, "")
      .trimStart();
    if (text.startsWith("<") && /<svg[\s>]/.test(text)) return "svg";
    return undefined;
  } finally {
    await fh.close();
  }
}

/**
 * Why a signing key file is not a public OpenPGP key, or undefined. It is copied
 * world-readable into the live root, so a private key or any other file is refused.
 */
async function publicKeyProblem(path: string): Promise<string | undefined> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(65536);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const head = buf.subarray(0, bytesRead);
    const text = head.toString("latin1");
    if (/-----BEGIN PGP PRIVATE KEY BLOCK-----|PRIVATE KEY-----/.test(text))
      return "holds a private key";
    if (path.endsWith(".asc"))
      return text.includes("-----BEGIN PGP PUBLIC KEY BLOCK-----")
        ? undefined
        : "is not an armored public key";
    if (path.endsWith(".gpg")) {
      // A binary keyring starts with a public-key packet: tag 6, old (0x98/0x99) or new (0xc6) format.
      const tag = head[0] ?? 0;
      return tag === 0x98 || tag === 0x99 || tag === 0xc6
        ? undefined
        : "is not a binary public key";
    }
    return "is neither .asc nor .gpg";
  } finally {
    await fh.close();
  }
}

/** The volume id of an ISO 9660 image (primary volume descriptor), or undefined. */
export async function isoVolumeId(path: string): Promise<string | undefined> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(72);
    const { bytesRead } = await fh.read(buf, 0, 72, 16 * 2048);
    if (bytesRead < 72 || buf[0] !== 1 || buf.toString("latin1", 1, 6) !== "CD001")
      return undefined;
    return buf.toString("latin1", 40, 72).trimEnd();
  } finally {
    await fh.close();
  }
}

export async function checkFiles(config: Config, dir: string): Promise<Problem[]> {
  const problems: Problem[] = [];
  const problem = (path: PropertyKey[], message: string, hint?: string) =>
    problems.push({ path: formatPath(path), message, ...(hint ? { hint } : {}) });

  // The roots files may come from: the profile's folder and the declared extra roots.
  const roots: string[] = [await realpath(dir)];
  for (const [i, extra] of config.files.extra_roots.entries()) {
    const key = ["files", "extra_roots", i];
    try {
      const real = await realpath(resolveFrom(dir, extra));
      if (!(await stat(real)).isDirectory()) problem(key, `"${extra}" is not a folder`);
      else if (isSystemFolder(real))
        problem(key, `"${extra}" is the system folder ${real}`, "name a folder of your project");
      else roots.push(real);
    } catch {
      problem(key, `folder "${extra}" not found`);
    }
  }
  const rootList = roots.join(", ");

  /** Resolves a named file and checks its kind and place; returns its real path. */
  const must = async (
    path: PropertyKey[],
    value: string,
    kind: Kind,
    hint: string,
  ): Promise<string | undefined> => {
    const abs = resolveFrom(dir, value);
    const what = kind === "dir" ? "folder" : kind === "exec" ? "executable file" : "file";
    let real: string;
    try {
      real = await realpath(abs);
    } catch {
      problem(path, `${what} "${value}" not found (looked at ${abs})`, hint);
      return undefined;
    }
    if (!roots.some((r) => within(real, r))) {
      const via = real === abs ? "" : ` (a symbolic link to ${real})`;
      problem(
        path,
        `"${value}"${via} is outside the profile's folder (${rootList})`,
        "keep the files a profile uses inside its folder, or add their folder to files.extra_roots",
      );
      return undefined;
    }
    if (kind === "dir" && isSystemFolder(real)) {
      problem(path, `"${value}" is the system folder ${real}`, "name a folder of the profile");
      return undefined;
    }
    const s = await stat(real);
    if (kind === "dir" ? !s.isDirectory() : !s.isFile()) {
      problem(path, `"${value}" is not a ${kind === "dir" ? "folder" : "regular file"}`, hint);
      return undefined;
    }
    if (kind === "exec") {
      try {
        await access(real, constants.X_OK);
      } catch {
        problem(path, `"${value}" is not executable`, hint);
        return undefined;
      }
    }
    return real;
  };

  const image = async (path: PropertyKey[], file: string, allowed: readonly ImageType[]) => {
    const type = await imageTypeOf(file);
    if (!type || !allowed.includes(type))
      problem(
        path,
        `${file} is ${type ? `a ${type.toUpperCase()} image` : "not a PNG, JPEG or SVG image"}; expected ${allowed.map((t) => t.toUpperCase()).join(" or ")}`,
      );
  };

  const checks: Promise<unknown>[] = [];
  config.live.repositories.forEach((repo, i) => {
    const key = ["live", "repositories", i, "signed_by"];
    checks.push(
      must(key, repo.signed_by, "file", "put the key file in the profile's folder").then(
        async (file) => {
          const why = file ? await publicKeyProblem(file) : undefined;
          if (why)
            problem(
              key,
              `"${repo.signed_by}" ${why}; expected an OpenPGP public key (.asc armored or .gpg binary)`,
              "export it with `gpg --export --armor <id> > repo.asc`",
            );
        },
      ),
    );
  });
  if (config.live.overlay) {
    checks.push(
      must(["live", "overlay"], config.live.overlay, "dir", "create the folder or remove the key"),
    );
  }
  for (const phase of ["pre", "post"] as const) {
    config.live.hooks[phase].forEach((hook, i) => {
      checks.push(
        must(["live", "hooks", phase, i], hook, "exec", "create the script and `chmod +x` it"),
      );
    });
  }
  const b = config.branding;
  const brandingDir = resolveFrom(dir, b.folder);
  checks.push(
    must(["branding", "folder"], b.folder, "dir", "run `atomiso init` for a starter folder").then(
      async (real) => {
        if (!real) return;
        // logo, icon, welcome: optional (atomiso draws defaults), but if there, a real image.
        for (const key of ["logo", "icon", "welcome"] as const) {
          const abs = join(brandingDir, b[key]);
          const exists = await lstat(abs).then(
            () => true,
            () => false,
          );
          if (!exists) continue;
          const file = await must(["branding", key], abs, "file", "put a PNG image there");
          // Plymouth, which shows the logo with [live] splash, reads PNG only.
          const types: ImageType[] =
            key === "logo" && config.live.splash ? ["png"] : ["png", "jpeg"];
          if (file) await image(["branding", key], file, types);
        }
      },
    ),
  );
  b.slides.forEach((slide, i) => {
    const key = ["branding", "slides", i, "image"];
    checks.push(
      must(
        key,
        join(brandingDir, slide.image),
        "file",
        "put the slide image in the branding folder",
      ).then(async (file) => {
        if (!file) return;
        const ext = slide.image.toLowerCase().replace(/^.*\./, "");
        await image(key, file, [ext === "svg" ? "svg" : ext === "png" ? "png" : "jpeg"]);
      }),
    );
  });
  if (config.image) {
    checks.push(
      must(
        ["image", "containerfile"],
        config.image.containerfile,
        "file",
        "give the Containerfile's path relative to atomiso.toml",
      ),
      must(
        ["image", "context"],
        config.image.context,
        "dir",
        "give the build context folder relative to atomiso.toml",
      ),
    );
    if (config.image.signing) {
      checks.push(
        must(
          ["image", "signing", "public_key"],
          config.image.signing.public_key,
          "file",
          "export the signing key's public half into the profile folder: gpg --export --armor <fingerprint> > signing-key.asc",
        ),
      );
    }
  }
  checks.push(checkOutput(config, roots[0] ?? dir, problem));
  await Promise.all(checks);
  return problems.sort((a, b) => a.path.localeCompare(b.path));
}

/** The ISO's path: iso.output, or out/<product.id>-<product.version>.iso. */
export function isoOutputOf(config: Config, dir: string): string {
  return resolveFrom(
    dir,
    config.iso.output ?? `out/${config.product.id}-${config.product.version}.iso`,
  );
}

/**
 * The output may be written only where atomiso may write: not into a system folder, and over
 * an existing file only if that is a regular file holding an ISO 9660 image with this
 * profile's volume id (an ISO atomiso wrote for it), never a symbolic link or anything else.
 */
async function checkOutput(
  config: Config,
  /** The profile's folder, symbolic links resolved. */
  dir: string,
  problem: (path: PropertyKey[], message: string, hint?: string) => void,
): Promise<void> {
  const key = ["iso", "output"];
  const output = isoOutputOf(config, dir);
  // The nearest existing ancestor decides where the file really goes.
  let parent = dirname(output);
  let realParent: string | undefined;
  while (realParent === undefined) {
    realParent = await realpath(parent).catch(() => undefined);
    if (realParent === undefined) {
      if (dirname(parent) === parent) break;
      parent = dirname(parent);
    }
  }
  if (realParent && !within(realParent, dir) && isSystemTree(realParent)) {
    problem(
      key,
      `${output} is in the system folder ${realParent}`,
      "write the ISO into the profile's folder (e.g. out/)",
    );
    return;
  }
  const st = await lstat(output).catch(() => undefined);
  if (!st) return;
  const refuse = (why: string) =>
    problem(
      key,
      `${output} exists and ${why}; atomiso replaces only an ISO it wrote (volume id ${config.iso.volume_id})`,
      "remove the file or choose another iso.output",
    );
  if (st.isSymbolicLink()) return refuse("is a symbolic link");
  if (!st.isFile()) return refuse("is not a regular file");
  const volumeId = await isoVolumeId(output).catch(() => undefined);
  if (volumeId === undefined) return refuse("is not an ISO 9660 image");
  if (volumeId !== config.iso.volume_id) refuse(`is the ISO "${volumeId}"`);
}

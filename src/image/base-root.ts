// The base root of a Debian system image: mmdebstrap (our argv builder and package-cache hooks,
// in a private mount namespace) writes a tarball, `podman import` turns it into the local image
// <name>:<key>. The key hashes the settings and the files that implement this step, so the
// 2-3 minute bootstrap runs again only when one of them changes; the Containerfile receives
// the image through a build argument.
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { hashFile, hashValue } from "../cache/hash.js";
import type { Reporter } from "../log/reporter.js";
import { safeRemove } from "../mounts/safe-remove.js";
import { libexecDir, packageRoot } from "../paths.js";
import { run } from "../tools/exec.js";
import { mmdebstrapArgv, mmdebstrapProgress } from "../tools/mmdebstrap.js";
import { inPrivateMountNamespace } from "../tools/namespace.js";
import { isAlive } from "../tools/process-alive.js";
import { localImageExists } from "./inspect.js";
import { podmanImportArgv } from "./podman.js";
import type { BaseRootSettings } from "./settings.js";

/** Files whose content defines how a base root is made (part of its key). */
export const BASE_ROOT_RECIPE = [
  "src/image/base-root.ts",
  "src/tools/mmdebstrap.ts",
  "libexec/mmdebstrap-setup",
  "libexec/mmdebstrap-customize",
  "libexec/image-base-customize",
];

export const BASE_KEY_LABEL = "dev.atomiso.base-key";

export async function baseRootKey(base: BaseRootSettings): Promise<string> {
  const recipe: Record<string, string> = {};
  for (const f of BASE_ROOT_RECIPE) recipe[f] = await hashFile(join(packageRoot, f));
  const { name: _name, buildArg: _buildArg, ...inputs } = base;
  return hashValue({ step: "image-base-root", inputs, recipe });
}

/** "<name>:<first 16 hex of the key>". */
export function baseRootImage(base: BaseRootSettings, key: string): string {
  return `${base.name}:${key.slice(0, 16)}`;
}

export function baseRootMmdebstrapArgv(base: BaseRootSettings, tarball: string): string[] {
  const argv = mmdebstrapArgv({
    suite: base.suite,
    mirror: base.mirror,
    components: base.components,
    packages: base.packages,
    extraSources: [],
    arch: base.arch,
    variant: base.variant,
    setupHooks: [join(libexecDir, "mmdebstrap-setup")],
    customizeHooks: [
      join(libexecDir, "image-base-customize"),
      join(libexecDir, "mmdebstrap-customize"),
    ],
    target: tarball,
  });
  // A tarball without /dev: mmdebstrap's device nodes would land in the image, and ostree
  // commit rejects them. (The build's first RUN leaves an empty /dev behind.)
  return [argv[0] ?? "mmdebstrap", "--skip=output/dev", ...argv.slice(1)];
}

export interface EnsureBaseRootOptions {
  cacheDir: string;
  reporter: Reporter;
  /** Build and import again even if <name>:<key> exists. */
  rebuild?: boolean;
}

export interface BaseRootResult {
  image: string;
  key: string;
  cached: boolean;
}

/** Makes sure the base root image exists locally; builds and imports it if not. */
export async function ensureBaseRoot(
  base: BaseRootSettings,
  o: EnsureBaseRootOptions,
): Promise<BaseRootResult> {
  const key = await baseRootKey(base);
  const image = baseRootImage(base, key);
  if (!o.rebuild && (await localImageExists(image))) {
    o.reporter.info(`base root ${image} is cached`);
    return { image, key, cached: true };
  }
  const tmpRoot = join(o.cacheDir, "image", "tmp");
  await removeStaleTemps(tmpRoot);
  const work = join(tmpRoot, `base-${process.pid}-${Date.now().toString(36)}`);
  await mkdir(work, { recursive: true });
  const aptCache = join(o.cacheDir, "apt", "archives");
  await mkdir(aptCache, { recursive: true });
  const tarball = join(work, "base.tar");
  try {
    await o.reporter.step(
      `Bootstrap ${base.suite} (mmdebstrap, ${base.packages.length} packages)`,
      () =>
        run(inPrivateMountNamespace(baseRootMmdebstrapArgv(base, tarball)), {
          // mmdebstrap builds in $TMPDIR: keep it on the cache's filesystem (hard links to .debs).
          env: { ATOMISO_APT_CACHE: aptCache, TMPDIR: work },
          hint: "check that the mirror is reachable and every package name exists in the suite (apt-cache policy <name>)",
          onLine: (line) => {
            o.reporter.detail(line);
            if (line.startsWith("atomiso: package cache")) {
              o.reporter.info(line.replace("atomiso: ", ""));
            }
            const p = mmdebstrapProgress(line);
            if (p !== undefined) o.reporter.progress(p, line.replace(/^I: /, ""));
          },
        }),
    );
    await o.reporter.step(`Import ${image}`, () =>
      run(
        podmanImportArgv({
          tarball,
          name: image,
          labels: { [BASE_KEY_LABEL]: key },
          message: `atomiso base root: Debian ${base.suite}, ${base.packages.length} packages`,
        }),
        { onLine: (line) => o.reporter.detail(line) },
      ),
    );
  } finally {
    await safeRemove(work);
  }
  return { image, key, cached: false };
}

/** Temp dirs of base-root runs whose process is gone (killed builds). */
async function removeStaleTemps(tmpRoot: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(tmpRoot);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(/-(\d+)-[a-z0-9]+$/.exec(name)?.[1]);
    if (pid === process.pid || (pid && isAlive(pid))) continue;
    await safeRemove(join(tmpRoot, name));
  }
}

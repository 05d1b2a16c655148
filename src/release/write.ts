// Release artifacts beside an ISO: <iso>.spdx.json (SBOM), <iso>.manifest.json, SHA256SUMS
// (this build's lines: the ISO, its log, SBOM and manifest) and, with a signing key,
// SHA256SUMS.asc. Each file is written under a temp name and renamed into place.
import { existsSync } from "node:fs";
import { rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { hashFile } from "../cache/hash.js";
import type { LoadedConfig } from "../config/load.js";
import { readLock } from "../image/lock.js";
import { lockFileFor } from "../image/settings.js";
import type { Reporter } from "../log/reporter.js";
import { safeRemove } from "../mounts/safe-remove.js";
import { packageVersion } from "../paths.js";
import type { Plan } from "../plan/plan.js";
import { PAYLOAD_DIR } from "../stages/payload.js";
import type { StageId } from "../stages/stage.js";
import type { BuildEpoch } from "./epoch.js";
import { extractImageSbomFiles } from "./image-root.js";
import { renderManifest, toolVersions } from "./manifest.js";
import { packagesOfRoot } from "./packages.js";
import { renderSbom } from "./sbom.js";
import { type SigningKey, signDetached } from "./signing.js";
import { type SumEntry, updateSums } from "./sums.js";

/** Tools the release step itself runs, recorded with the build's. */
export const RELEASE_TOOLS = ["dpkg-query", "tar"];

export function sbomPath(iso: string): string {
  return `${iso}.spdx.json`;
}
export function manifestPath(iso: string): string {
  return `${iso}.manifest.json`;
}
export function logPath(iso: string): string {
  return `${iso}.log`;
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const temp = `${path}.partial-${process.pid}`;
  try {
    await writeFile(temp, text);
    await rename(temp, path);
  } finally {
    await rm(temp, { force: true });
  }
}

export interface ReleaseDocsInput {
  iso: string;
  plan: Plan;
  loaded: LoadedConfig;
  /** Output dir of every stage of the plan. */
  stageDirs: Partial<Record<StageId, string>>;
  epoch: BuildEpoch;
  /** A scratch folder (inside the cache's tmp) for the image's extracted dpkg files. */
  scratch: string;
  reporter: Reporter;
}

/** Writes the SBOM and the manifest; returns the ISO's sha256. */
export async function writeReleaseDocs(i: ReleaseDocsInput): Promise<string> {
  const { plan, loaded, stageDirs, reporter } = i;
  const isoSha = await hashFile(i.iso);
  const isoSize = (await stat(i.iso)).size;
  const bootstrap = stageDirs.bootstrap;
  const liveConfig = stageDirs["live-config"];
  if (!bootstrap || !liveConfig)
    throw new Error("the release needs the bootstrap and live-config stages");
  const live = await packagesOfRoot([join(liveConfig, "upper"), join(bootstrap, "root")]);

  const c = loaded.config;
  const lockFile = lockFileFor(loaded.file);
  const lock =
    plan.installable && c.image
      ? await readLock(lockFile, { expectReference: c.image.reference })
      : undefined;
  let image:
    | { reference: string; digest: string; packages: Awaited<ReturnType<typeof packagesOfRoot>> }
    | undefined;
  if (lock && stageDirs.payload) {
    const dir = join(i.scratch, "image-root");
    try {
      await extractImageSbomFiles(join(stageDirs.payload, PAYLOAD_DIR), dir);
      image = {
        reference: lock.reference,
        digest: lock.digest,
        packages: await packagesOfRoot([dir]),
      };
    } finally {
      await safeRemove(dir);
    }
  } else if (lock) {
    reporter.warn(
      "SBOM: the image is installed online (not on the ISO), so its packages are not listed",
    );
  }

  const sbom = renderSbom({
    isoName: basename(i.iso),
    isoSha256: isoSha,
    productVersion: c.product.version,
    atomisoVersion: packageVersion,
    created: i.epoch.epoch ?? Math.floor(Date.now() / 1000),
    suite: c.live.suite,
    live,
    ...(image ? { image } : {}),
  });
  await writeAtomic(sbomPath(i.iso), `${JSON.stringify(sbom, null, 2)}\n`);

  const tools = plan.steps.flatMap((s) => s.stage.definition.tools);
  const manifest = renderManifest({
    atomisoVersion: packageVersion,
    iso: { name: basename(i.iso), sha256: isoSha, size: isoSize },
    installable: plan.installable,
    profile: {
      name: basename(loaded.file),
      sha256: await hashFile(loaded.file),
      ...(existsSync(lockFile) && lock ? { lockSha256: await hashFile(lockFile) } : {}),
    },
    stages: plan.steps.map((s) => ({ id: s.stage.definition.id, key: s.key })),
    ...(lock && c.image
      ? {
          image: {
            reference: lock.reference,
            digest: lock.digest,
            pinned: lock.pinned,
            payload: c.image.payload,
          },
        }
      : {}),
    tools: await toolVersions([...tools, ...RELEASE_TOOLS]),
    epoch: i.epoch,
  });
  await writeAtomic(manifestPath(i.iso), `${JSON.stringify(manifest, null, 2)}\n`);
  reporter.info(
    `SBOM: ${live.length} live-root package(s)${image ? `, ${image.packages.length} image package(s)` : ""}; manifest written`,
  );
  return isoSha;
}

/** SHA256SUMS lines for the ISO and its side files (those that exist), then the signature. */
export async function writeSumsAndSignature(
  iso: string,
  signing: SigningKey | undefined,
  isoSha?: string,
): Promise<{ sums: string; signature?: string; entries: SumEntry[] }> {
  const entries: SumEntry[] = [{ name: basename(iso), sha256: isoSha ?? (await hashFile(iso)) }];
  for (const side of [logPath(iso), sbomPath(iso), manifestPath(iso)]) {
    if (existsSync(side)) entries.push({ name: basename(side), sha256: await hashFile(side) });
  }
  const sums = await updateSums(dirname(iso), entries);
  // A signature over an older SHA256SUMS no longer matches it: replaced, or removed when unsigned.
  if (!signing) {
    await rm(`${sums}.asc`, { force: true });
    return { sums, entries };
  }
  const signature = await signDetached(signing, sums);
  return { sums, signature, entries };
}

// Config → Plan: the ordered stages of an ISO build with their options and cache keys.
// Pure apart from reading the files that feed the keys; nothing is run.
import { dirname, relative } from "node:path";
import { hashFile, hashTree, hashValue } from "../cache/hash.js";
import { calamaresOptionsFor } from "../config/calamares-options.js";
import type { LoadedConfig } from "../config/load.js";
import { resolveFrom } from "../config/paths.js";
import { AtomisoError } from "../errors.js";
import { type ImageLock, readLock } from "../image/lock.js";
import { lockFileFor } from "../image/settings.js";
import { type InstallPlan, renderInstallPlan } from "../install/install-plan.js";
import { parseReference } from "../oci/reference.js";
import { bootFilesStage } from "../stages/boot-files.js";
import { bootstrapStage, type InstallNeeds, livePackages } from "../stages/bootstrap.js";
import { calamaresStage } from "../stages/calamares.js";
import { isoStage } from "../stages/iso.js";
import { kernelStage } from "../stages/kernel.js";
import { liveConfigStage } from "../stages/live-config.js";
import { type PayloadSigning, payloadStage } from "../stages/payload.js";
import { squashfsBaseStage, squashfsConfigStage } from "../stages/squashfs.js";
import type { PlannedStage, StageDefinition, StageId } from "../stages/stage.js";
import { BOOT_SOURCES } from "../tools/grub.js";
import { stageCodeHash } from "./code-closure.js";

export interface PlanStep {
  stage: PlannedStage;
  key: string;
}

export interface Plan {
  configFile: string;
  /** Where the finished ISO is written. */
  output: string;
  /** False for --no-payload: the ISO boots and shows the installer, which refuses to install. */
  installable: boolean;
  steps: PlanStep[];
}

export interface PlanOptions {
  /** SOURCE_DATE_EPOCH for reproducible images: the profile's own stages. */
  epoch?: number;
  /**
   * The epoch of the stages every profile shares (bootstrap, base squashfs): only one the user
   * set (SOURCE_DATE_EPOCH), never the one derived from a profile folder's git history, which
   * would give each profile, and each commit to it, a base system of its own.
   */
  baseEpoch?: number;
  /** Build an ISO without the system image: its installer refuses before touching a disk. */
  noPayload?: boolean;
}

/** The pinned image the ISO embeds: atomiso.lock must exist and match image.reference. */
/**
 * A signed image's signature for the payload stage: [image.signing] asks for one, so
 * atomiso.lock must record it, made by the configured key.
 */
function payloadSigning(loaded: LoadedConfig, lock: ImageLock): PayloadSigning | undefined {
  const signing = loaded.config.image?.signing;
  if (!signing || !loaded.config.image) return undefined;
  const lockFile = lockFileFor(loaded.file);
  if (!lock.signature || lock.signature.key !== signing.gpg_key) {
    throw new AtomisoError(
      "image-unpinned",
      lock.signature
        ? `${lockFile} pins an image signed by ${lock.signature.key}, but image.signing.gpg_key is ${signing.gpg_key}`
        : `image.signing asks for a signed image, but ${lockFile} pins an unsigned one`,
      "run `atomiso push` to sign the image with image.signing.gpg_key and pin it again",
      2,
    );
  }
  return {
    signatureFile: resolveFrom(dirname(lockFile), lock.signature.file),
    sha256: lock.signature.sha256,
    fingerprint: signing.gpg_key,
    publicKey: resolveFrom(loaded.dir, signing.public_key),
    reference: loaded.config.image.reference,
  };
}

async function pinnedImage(loaded: LoadedConfig): Promise<ImageLock> {
  const image = loaded.config.image;
  if (!image) {
    throw new AtomisoError(
      "image-unpinned",
      `${loaded.file} has no [image] section, so the ISO would have nothing to install`,
      "add an [image] section with the registry reference and run `atomiso push` to pin it, or build with --no-payload",
      2,
    );
  }
  const lock = await readLock(lockFileFor(loaded.file), { expectReference: image.reference });
  if (loaded.config.installer.partition.encryption && lock.luks !== true) {
    const [why, fix] =
      lock.luks === false
        ? [
            "the pinned image has no systemd-cryptsetup, so its initramfs cannot unlock an encrypted root",
            "add cryptsetup and systemd-cryptsetup to the image (and dracut's crypt module to its initramfs), then `atomiso push`; or set encryption = false",
          ]
        : [
            "atomiso.lock does not say whether the pinned image can unlock an encrypted root (it predates that check)",
            "run `atomiso push` again to record it, or set encryption = false",
          ];
    throw new AtomisoError(
      "config-invalid",
      `${loaded.file}: installer.partition.encryption is true, but ${why}`,
      fix,
      2,
    );
  }
  return lock;
}

function planned<O>(
  definition: StageDefinition<O>,
  options: O,
  after: StageId[],
  contentKeys: Record<string, string> = {},
  keyOptions: unknown = options,
): PlannedStage {
  return {
    definition: definition as StageDefinition<unknown>,
    options,
    after,
    contentKeys,
    keyOptions,
  };
}

/**
 * Which backend and payload mode the live root must serve (src/stages/bootstrap.ts picks the
 * container tools from it). A --no-payload build still reads the lock when there is one, so its
 * live root is the one the real ISO gets (and shares its bootstrap cache).
 */
async function installNeeds(loaded: LoadedConfig, noPayload: boolean): Promise<InstallNeeds> {
  const image = loaded.config.image;
  if (!image) return { backend: "none", payload: "none" };
  let backend: InstallNeeds["backend"] = image.backend === "auto" ? "none" : image.backend;
  if (backend === "none") {
    const lock = noPayload
      ? await readLock(lockFileFor(loaded.file), { expectReference: image.reference }).catch(
          () => undefined,
        )
      : await pinnedImage(loaded);
    if (lock) backend = lock.backend;
  }
  if (backend === "none") return { backend, payload: "none" };
  return { backend, payload: image.payload };
}

export async function planIso(loaded: LoadedConfig, options: PlanOptions = {}): Promise<Plan> {
  const { config: c, dir } = loaded;
  const abs = (p: string) => resolveFrom(dir, p);
  const epoch = options.epoch;
  const baseEpoch = options.baseEpoch;

  const repositories = c.live.repositories.map((r) => ({
    uri: r.uri,
    suite: r.suite,
    components: r.components,
    keyFile: abs(r.signed_by),
  }));
  const packages = livePackages(
    await installNeeds(loaded, options.noPayload === true),
    c.live.packages,
    {
      sshServer: c.live.ssh_keys.length > 0,
      accessibility: c.live.accessibility,
      splash: c.live.splash,
    },
  );
  const bootstrap = planned(
    bootstrapStage,
    {
      suite: c.live.suite,
      mirror: c.live.mirror,
      components: c.live.components,
      arch: "amd64",
      packages,
      repositories,
      ...(baseEpoch !== undefined ? { epoch: baseEpoch } : {}),
    },
    [],
    Object.fromEntries(
      await Promise.all(
        repositories.map(async (r, i) => [`key${i}`, await hashFile(r.keyFile)] as const),
      ),
    ),
    {
      suite: c.live.suite,
      mirror: c.live.mirror,
      components: c.live.components,
      packages,
      repositories: repositories.map(({ keyFile: _k, ...rest }) => rest),
      ...(baseEpoch !== undefined ? { epoch: baseEpoch } : {}),
    },
  );

  const product = {
    productName: c.product.name,
    productId: c.product.id,
    productVersion: c.product.version,
    ...(c.product.url ? { productUrl: c.product.url } : {}),
  };
  const calamaresOptions = calamaresOptionsFor(c, dir);
  const { brandingDir, ...calamaresKey } = calamaresOptions;
  const calamares = planned(
    calamaresStage,
    calamaresOptions,
    [],
    { branding: await hashTree(brandingDir) },
    calamaresKey,
  );

  const overlay = c.live.overlay ? abs(c.live.overlay) : undefined;
  const hooks = { pre: c.live.hooks.pre.map(abs), post: c.live.hooks.post.map(abs) };
  const liveKeys: Record<string, string> = {};
  if (overlay) liveKeys.overlay = await hashTree(overlay);
  for (const phase of ["pre", "post"] as const) {
    for (const [i, h] of hooks[phase].entries()) liveKeys[`${phase}${i}`] = await hashFile(h);
  }
  const signing = c.image?.signing;
  const liveFiles = {
    ...product,
    suite: c.live.suite,
    user: c.live.user,
    ...(c.image && signing && !options.noPayload
      ? {
          signing: {
            fingerprint: signing.gpg_key,
            publicKey: abs(signing.public_key),
            reference: c.image.reference,
            ...(c.image.track ? { track: c.image.track } : {}),
            ...(signing.lookaside ? { lookaside: signing.lookaside } : {}),
          },
        }
      : {}),
    ...(c.live.ssh_keys.length > 0 ? { sshKeys: c.live.ssh_keys } : {}),
    ...(c.live.accessibility ? { accessibility: true } : {}),
    background: c.branding.sidebar_background,
    ...(c.live.splash ? { splash: true } : {}),
  };
  if (liveFiles.signing) liveKeys.signingKey = await hashFile(liveFiles.signing.publicKey);
  const liveConfig = planned(
    liveConfigStage,
    {
      hostname: c.live.hostname,
      user: c.live.user,
      files: liveFiles,
      ...(overlay ? { overlay } : {}),
      hooks,
    },
    ["bootstrap", "calamares"],
    liveKeys,
    {
      hostname: c.live.hostname,
      user: c.live.user,
      // The key's content is in liveKeys; its path does not matter.
      files: liveFiles.signing
        ? { ...liveFiles, signing: { ...liveFiles.signing, publicKey: "" } }
        : liveFiles,
      hooks: { pre: hooks.pre.length, post: hooks.post.length },
    },
  );

  const squashNoEpoch = {
    compression: c.iso.compression,
    ...(c.iso.compression_level !== undefined ? { level: c.iso.compression_level } : {}),
  };
  const squash = { ...squashNoEpoch, ...(epoch !== undefined ? { epoch } : {}) };
  const bootKeys: Record<string, string> = {};
  for (const [name, path] of Object.entries(BOOT_SOURCES))
    bootKeys[name] = await hashFile(path).catch(() => "missing");
  bootKeys.grubBios = await hashFile("/usr/lib/grub/i386-pc/kernel.img").catch(() => "missing");

  let payload: PlannedStage | undefined;
  let installPlan: InstallPlan | undefined;
  if (!options.noPayload) {
    const lock = await pinnedImage(loaded);
    const image = c.image as NonNullable<typeof c.image>;
    installPlan = renderInstallPlan({
      product: { name: c.product.name, id: c.product.id, version: c.product.version },
      installer: c.installer,
      image: {
        backend: image.backend,
        payload: image.payload,
        ...(image.stateroot ? { stateroot: image.stateroot } : {}),
        ...(image.track ? { track: image.track } : {}),
        autoUpdate: image.auto_update,
      },
      lock,
    });
    const tag = parseReference(lock.reference).tag ?? "latest";
    // Keyed by the digest alone: the same pinned image is fetched once, whatever the access.
    // Online installs pull it at install time: nothing to carry.
    if (image.payload === "embedded") {
      const signing = payloadSigning(loaded, lock);
      payload = planned(
        payloadStage,
        {
          pinned: lock.pinned,
          digest: lock.digest,
          tag,
          access: { tlsVerify: lock.tlsVerify },
          ...(signing ? { signing } : {}),
        },
        [],
        signing ? { signingKey: await hashFile(signing.publicKey) } : {},
        {
          pinned: lock.pinned,
          digest: lock.digest,
          tag,
          ...(signing ? { signature: signing.sha256, key: signing.fingerprint } : {}),
        },
      );
    }
  }

  const stages: PlannedStage[] = [
    bootstrap,
    calamares,
    liveConfig,
    planned(
      squashfsBaseStage,
      {
        ...squashNoEpoch,
        ...(baseEpoch !== undefined ? { epoch: baseEpoch } : {}),
      },
      ["bootstrap"],
    ),
    planned(squashfsConfigStage, squash, ["live-config"]),
    planned(kernelStage, {}, ["bootstrap"]),
    planned(
      bootFilesStage,
      {
        productName: c.product.name,
        timeout: c.iso.boot_timeout,
        kernelArgs: c.iso.kernel_args,
        ...(c.live.splash ? { splash: true } : {}),
        colors: { background: c.branding.sidebar_background, text: c.branding.sidebar_text },
        fatSerial: hashValue(c.iso.volume_id).slice(0, 8),
        ...(epoch !== undefined ? { epoch } : {}),
      },
      [],
      bootKeys,
    ),
    ...(payload ? [payload] : []),
    planned(
      isoStage,
      {
        volumeId: c.iso.volume_id,
        productName: c.product.name,
        productVersion: c.product.version,
        ...(epoch !== undefined ? { epoch } : {}),
        ...(installPlan ? { installPlan } : {}),
        installerMemoryMiB: Math.ceil(c.installer.requirements.ram_gib * 1024),
      },
      [
        "squashfs-base",
        "squashfs-config",
        "kernel",
        "boot-files",
        ...(payload ? (["payload"] as const) : []),
      ],
    ),
  ];

  const keys = new Map<StageId, string>();
  const steps: PlanStep[] = [];
  for (const stage of stages) {
    const key = hashValue({
      id: stage.definition.id,
      code: await stageCodeHash(stage.definition.module),
      options: stage.keyOptions,
      content: stage.contentKeys,
      after: stage.after.map((id) => keys.get(id)),
    });
    keys.set(stage.definition.id, key);
    steps.push({ stage, key });
  }
  const output = abs(c.iso.output ?? `out/${c.product.id}-${c.product.version}.iso`);
  return {
    configFile: loaded.file,
    output: options.noPayload ? noPayloadName(output) : output,
    installable: !options.noPayload,
    steps,
  };
}

/**
 * A --no-payload ISO cannot install, so it never takes the installable ISO's name (a release
 * could otherwise ship it by mistake): `os-1.0.iso` becomes `os-1.0-nopayload.iso`.
 */
export function noPayloadName(output: string): string {
  return /\.iso$/i.test(output)
    ? output.replace(/(\.iso)$/i, "-nopayload$1")
    : `${output}-nopayload.iso`;
}

/** The plan as printable data (`atomiso plan --json`). */
export function describePlan(plan: Plan) {
  return {
    config: plan.configFile,
    output: plan.output,
    installable: plan.installable,
    stages: plan.steps.map(({ stage, key }) => ({
      id: stage.definition.id,
      title: stage.definition.title,
      key: key.slice(0, 16),
      after: stage.after,
      tools: stage.definition.tools,
      options: stage.keyOptions,
    })),
  };
}

export function relativeToCwd(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith("..") ? path : rel;
}

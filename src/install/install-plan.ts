// /etc/atomiso/install.json: what the live system's installers (the Calamares job module and
// the unattended installer) need to know about the image and the layout, fixed at build time.
// Both installers read only this file, so they cannot disagree about the layout or the image.
// It travels on the medium beside the payload (atomiso/install.json; /etc/atomiso/install.json
// links to it), so pinning a new image rebuilds neither squashfs layer.
import type { InstallerConfig } from "../config/installer-schema.js";
import type { ImageLock } from "../image/lock.js";

/** In the live root: a link to the plan on the medium. */
export const INSTALL_PLAN_PATH = "etc/atomiso/install.json";
export const INSTALL_PLAN_IN_ISO = "atomiso/install.json";
export const INSTALL_PLAN_ON_MEDIUM = "/run/live/medium/atomiso/install.json";
/** Where the deploy backends live in the live system. */
export const DEPLOY_SCRIPTS_DIR = "/usr/lib/atomiso/deploy";
/** The payload (an OCI image layout) on the installation medium, as the live system sees it. */
export const PAYLOAD_ON_MEDIUM = "/run/live/medium/atomiso/payload";
/** The payload's folder inside the ISO file system. */
export const PAYLOAD_IN_ISO = "atomiso/payload";

export interface InstallPlan {
  version: 1;
  product: { name: string; id: string; version: string };
  /** Decided by the image lint (bootc in the image or not), overridable in atomiso.toml. */
  backend: "ostree" | "bootc";
  image: {
    /**
     * Registry reference the installed system updates from (with its tag): image.track, else
     * the reference the image was pushed to. The backends record it in the origin.
     */
    reference: string;
    /** Manifest digest pinned in atomiso.lock; checked before anything is written. */
    digest: string;
    /** registry/repository@digest. */
    pinned: string;
    /** Bytes in the registry (compressed layers) and unpacked. */
    size: number;
    unpackedSize: number;
    /** image.auto_update: the installers enable atomiso-update.timer in the deployment. */
    autoUpdate: boolean;
  };
  /**
   * embedded: an OCI image layout on the medium. online: pulled at install time from the
   * registry by the pinned reference (registry/repository@digest) onto the target disk.
   */
  payload:
    | { mode: "embedded"; layout: string }
    | { mode: "online"; source: string; tlsVerify: boolean };
  ostree: { stateroot: string; ref: string };
  /** Extra kernel arguments of the installed system (root=UUID and rw are added by the backend). */
  kargs: string[];
  layout: {
    table: "gpt";
    biosBootMiB: number;
    efiMiB: number;
    bootMiB: number;
    rootMinGiB: number;
    /** Root file system preselected / used by the unattended installer by default. */
    filesystem: "ext4" | "xfs" | "btrfs";
    filesystems: ("ext4" | "xfs" | "btrfs")[];
    /** The root may be LUKS2-encrypted (the image's initramfs can unlock it). */
    encryption: boolean;
  };
  users: { groups: string[]; sudoGroup: string; shell: string };
  requirements: { storageGiB: number; ramGiB: number };
  scripts: string;
}

export interface InstallPlanInput {
  product: { name: string; id: string; version: string };
  installer: InstallerConfig;
  image: {
    backend: "auto" | "ostree" | "bootc";
    stateroot?: string;
    /** Default "embedded". */
    payload?: "embedded" | "online";
    /** image.track: the reference installed systems update from; default the lock's. */
    track?: string;
    /** image.auto_update (default false). */
    autoUpdate?: boolean;
  };
  lock: ImageLock;
}

/**
 * Disk the install needs: ESP + /boot + a root that holds the image twice (GiB, rounded up).
 * Part of the plan (both installers check it); the welcome page's storage check shows it too.
 */
export function requiredStorageGiB(i: InstallerConfig): number {
  const root = Math.max(i.partition.root_min_gib, 2 * i.requirements.image_gib);
  return Math.ceil((i.partition.efi_mib + i.partition.boot_mib + 1) / 1024 + root);
}

/** The install plan of an ISO that embeds the image pinned by `lock`. */
export function renderInstallPlan(o: InstallPlanInput): InstallPlan {
  const p = o.installer.partition;
  const stateroot = o.image.stateroot ?? o.product.id;
  return {
    version: 1,
    product: o.product,
    backend: o.image.backend === "auto" ? o.lock.backend : o.image.backend,
    image: {
      reference: o.image.track ?? o.lock.reference,
      digest: o.lock.digest,
      pinned: o.lock.pinned,
      size: o.lock.size,
      unpackedSize: o.lock.unpackedSize,
      autoUpdate: o.image.autoUpdate ?? false,
    },
    payload:
      o.image.payload === "online"
        ? { mode: "online", source: o.lock.pinned, tlsVerify: o.lock.tlsVerify }
        : { mode: "embedded", layout: PAYLOAD_ON_MEDIUM },
    ostree: { stateroot, ref: `atomiso/${stateroot}` },
    kargs: o.installer.kernel_args,
    layout: {
      table: "gpt",
      biosBootMiB: 1,
      efiMiB: p.efi_mib,
      bootMiB: p.boot_mib,
      rootMinGiB: p.root_min_gib,
      filesystem: p.filesystem,
      filesystems: p.filesystems,
      encryption: p.encryption,
    },
    users: {
      groups: o.installer.users.groups,
      sudoGroup: o.installer.users.sudo_group,
      shell: o.installer.users.shell,
    },
    requirements: {
      storageGiB: requiredStorageGiB(o.installer),
      ramGiB: o.installer.requirements.ram_gib,
    },
    scripts: DEPLOY_SCRIPTS_DIR,
  };
}

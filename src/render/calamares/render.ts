// Renders the Calamares configuration (settings.conf and one .conf per configurable module in
// the sequence) and the branding component, from typed objects dumped as YAML. Keys were
// checked against the Calamares 3.3 module sources (see docs/installer.md).
import { readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import type { InstallerConfig } from "../../config/installer-schema.js";
import { requiredStorageGiB } from "../../install/install-plan.js";
import { packageRoot } from "../../paths.js";
import { renderTemplate } from "../ejs.js";
import { refuseControl } from "../escape/control.js";
import { qmlString } from "../escape/qml.js";
import { qssComment } from "../escape/qss.js";
import { yamlDocument } from "../escape/yaml.js";
import type { RenderedFile } from "../file-tree.js";
import { defaultLogo } from "../png.js";
import type { BrandingDesc, ModuleConfigs, SettingsConf } from "./model.js";

export interface Slide {
  image: string;
  caption: string;
}

export interface CalamaresOptions {
  productName: string;
  productId: string;
  productVersion: string;
  productUrl?: string;
  sidebarBackground: string;
  sidebarText: string;
  /** Branding folder of the profile; images named below are read from it. */
  brandingDir: string;
  images: { logo: string; icon: string; welcome: string };
  slides: Slide[];
  installer: InstallerConfig;
  /**
   * Set when the image is pulled at install time ([image] payload = "online"): the welcome
   * page then requires this URL (the registry's API root) to answer.
   */
  onlineCheckUrl?: string;
}

/** Modules whose module.desc says `noconfig: true`: Calamares reads no .conf for them. */
export const NOCONFIG_MODULES = new Set(["summary"]);

const MODULES_DIR = "/usr/lib/x86_64-linux-gnu/calamares/modules";
const BIOS_BOOT_GUID = "21686148-6449-6e6f-744e-656564454649";

const dump = yamlDocument;

/** atomiso's own Calamares job modules (calamares/modules/, installed with the live files). */
export const ATOMISO_MODULES = ["atomisodeploy", "atomisoumount"] as const;

/**
 * The install phase: verify the payload before any disk is touched, partition and mount,
 * deploy the image (atomisodeploy, which then points rootMountPoint at the deployment), let
 * the stock modules write the user, locale and keyboard into the deployment's /etc, switch
 * back and unmount. Pages not shown contribute no job.
 */
export function execSequence(pages: readonly string[]): string[] {
  return [
    "shellprocess@checkpayload",
    "partition",
    "mount",
    "atomisodeploy",
    ...(["locale", "keyboard"] as const).filter((p) => pages.includes(p)),
    "users",
    "atomisoumount",
    "umount",
  ];
}

/** The page that asks once more before Erase deletes another system (a notesqml instance). */
export const ERASE_CONFIRM = "notesqml@eraseconfirm";
/** The live session writes this lsblk --json before it starts Calamares (installer-session). */
export const DISKS_FILE = "/tmp/atomiso-disks.json";
const ERASE_CONFIRM_DIR = "src/render/templates/erase-confirm";

/**
 * The pages in the profile's order, with the erase confirmation right after the partition page
 * (Back from it returns to the choice; it passes itself over when there is nothing to confirm).
 */
export function showSequence(pages: readonly string[]): string[] {
  return pages.flatMap((p) => (p === "partition" ? [p, ERASE_CONFIRM] : [p]));
}

export function settingsConf(o: CalamaresOptions): SettingsConf {
  return {
    "modules-search": ["local", MODULES_DIR],
    instances: [
      { id: "checkpayload", module: "shellprocess", config: "shellprocess-checkpayload.conf" },
      { id: "eraseconfirm", module: "notesqml", config: "notesqml-eraseconfirm.conf" },
    ],
    sequence: [
      { show: showSequence(o.installer.pages) },
      { exec: execSequence(o.installer.pages) },
      { show: ["finished"] },
    ],
    branding: o.productId,
    "prompt-install": true,
    "dont-chroot": false,
    "oem-setup": false,
    "disable-cancel": false,
    "disable-cancel-during-exec": false,
    "hide-back-and-next-during-exec": true,
    "quit-at-end": false,
  };
}

function partitionConf(i: InstallerConfig): Record<string, unknown> {
  const p = i.partition;
  return {
    efi: {
      mountPoint: "/boot/efi",
      recommendedSize: `${p.efi_mib}MiB`,
      // Only manual partitioning checks this (and only warns): an ESP kept from Windows is
      // often 100 MiB, which is plenty for shim and GRUB (about 5 MiB). atomisodeploy refuses
      // an ESP without room for them before the deploy writes anything.
      minimumSize: "100MiB",
      label: "EFI",
    },
    userSwapChoices: p.swap,
    initialSwapChoice: p.swap[0],
    luksGeneration: "luks2",
    drawNestedPartitions: false,
    alwaysShowPartitionLabels: true,
    allowManualPartitioning: p.manual,
    // Nothing is pre-selected: Calamares applies this choice to whatever disk is shown, also
    // one that holds Windows or another Linux, and "erase" would delete it for a user who only
    // presses Next. The user picks Erase, Alongside, Replace or Manual; Next waits for it.
    initialPartitioningChoice: "none",
    defaultPartitionTableType: "gpt",
    defaultFileSystemType: p.filesystem,
    availableFileSystemTypes: p.filesystems,
    enableLuksAutomatedPartitioning: p.encryption,
    // /boot is deliberately unencrypted (ostree keeps kernels there); no warning about it.
    showNotEncryptedBootMessage: false,
    // Erase: Calamares makes a new table, prepends a new ESP on UEFI machines, then this
    // layout (and a swap partition when chosen). "Install alongside" (the shrunk partition's
    // freed space) and "Replace a partition" (the deleted partition's space) apply the same
    // layout into that space (Calamares 3.3 ChoicePage::doAlongsideApply and
    // PartitionActions::doReplacePartition, both through layoutApply), keep the table and
    // reuse the disk's existing ESP: its mount point is set, it is not formatted. Neither is
    // offered without requiredStorage (the welcome page's). The BIOS boot partition lets GRUB
    // install on BIOS machines with GPT (without it grub-install fails late in the install).
    partitionLayout: [
      {
        name: "bios-boot",
        type: BIOS_BOOT_GUID,
        filesystem: "unformatted",
        size: "1MiB",
        noEncrypt: true,
      },
      {
        name: "boot",
        filesystem: "ext4",
        mountPoint: "/boot",
        size: `${p.boot_mib}MiB`,
        noEncrypt: true,
      },
      // "unknown": the file system the user picks (defaultFileSystemType preselected).
      {
        name: "root",
        filesystem: "unknown",
        mountPoint: "/",
        size: "100%",
        minSize: `${p.root_min_gib}GiB`,
      },
    ],
  };
}

/**
 * mount.conf btrfsSubvolumes: what Calamares' mount module creates on a btrfs root and mounts
 * below rootMountPoint (subvolume names with a leading slash, as it joins them to the mounted
 * top level). Offered btrfs gets the layout atomiso_live/btrfs.py describes: @ holds the
 * sysroot (rootflags=subvol=@), @home is /var/home (atomisodeploy moves it from the sysroot's
 * var/home to the stateroot's and writes its fstab line), @snapshots is created for snapshot
 * tools (atomisodeploy unmounts it again: it is not mounted on the installed system).
 * Calamares leaves out a subvolume whose mount point has a partition of its own (a separate
 * /var/home). Without btrfs on offer, a btrfs root made by manual partitioning is used whole.
 */
export function btrfsSubvolumes(i: InstallerConfig): { mountPoint: string; subvolume: string }[] {
  if (!i.partition.filesystems.includes("btrfs")) return [{ mountPoint: "/", subvolume: "" }];
  return [
    { mountPoint: "/", subvolume: "/@" },
    { mountPoint: "/var/home", subvolume: "/@home" },
    { mountPoint: "/.snapshots", subvolume: "/@snapshots" },
  ];
}

export function moduleConfigs(o: CalamaresOptions): ModuleConfigs {
  const i = o.installer;
  const u = i.users;
  const all: ModuleConfigs = {
    welcome: {
      showSupportUrl: false,
      showKnownIssuesUrl: false,
      showReleaseNotesUrl: false,
      showDonateUrl: false,
      requirements: o.onlineCheckUrl
        ? {
            requiredStorage: requiredStorageGiB(i),
            requiredRam: i.requirements.ram_gib,
            // Online install: the image comes from this registry, so it must answer.
            internetCheckUrl: o.onlineCheckUrl,
            check: ["storage", "ram", "root", "screen", "internet"],
            required: ["storage", "ram", "root", "internet"],
          }
        : {
            requiredStorage: requiredStorageGiB(i),
            requiredRam: i.requirements.ram_gib,
            // Not checked (see below), but Calamares warns when the key is missing.
            internetCheckUrl: "http://deb.debian.org/debian/",
            // No internet check: the installer deploys the image carried on the medium.
            check: ["storage", "ram", "root", "screen"],
            required: ["storage", "ram", "root"],
          },
    },
    locale: {
      region: i.locale.region,
      zone: i.locale.zone,
      useSystemTimezone: false,
      adjustLiveTimezone: true,
    },
    keyboard: {
      xOrgConfFileName: "/etc/X11/xorg.conf.d/00-keyboard.conf",
      convertedKeymapPath: "/lib/kbd/keymaps/xkb",
      writeEtcDefaultKeyboard: true,
    },
    partition: partitionConf(i),
    users: {
      // Groups may exist only in /usr/lib/group on an atomic image; must_exist: false lets
      // Calamares create any that are missing from /etc/group.
      defaultGroups: [
        ...u.groups.map((name) => ({ name, must_exist: false, system: true })),
        { name: u.sudo_group, must_exist: false, system: true },
      ],
      sudoersGroup: u.sudo_group,
      sudoersConfigureWithGroup: true,
      setRootPassword: u.root_password,
      doReusePassword: false,
      doAutologin: u.autologin,
      passwordRequirements: { minLength: u.password_min_length, maxLength: -1 },
      allowWeakPasswords: u.weak_passwords,
      allowWeakPasswordsDefault: false,
      user: { shell: u.shell, forbidden_names: ["root"], home_permissions: "o700" },
      hostname: {
        location: "EtcFile",
        writeHostsFile: true,
        template: u.hostname_template ?? `${o.productId}-\${cpu}`,
        forbidden_names: ["localhost"],
      },
    },
    finished: {
      restartNowMode: i.restart,
      restartNowCommand: "systemctl -i reboot",
      notifyOnFinished: false,
    },
    // Reads every blob of the payload (minutes on a slow USB stick): no 30 s default timeout.
    "shellprocess-checkpayload": {
      dontChroot: true,
      timeout: 1800,
      script: ["/usr/libexec/atomiso/check-payload"],
      i18n: { name: "Check the system image" },
    },
    // The mounts of the physical root only: the deploy job binds /dev, /proc, /sys and /run
    // into the deployment itself, and the ostree sysroot must not get them.
    mount: {
      extraMounts: [],
      btrfsSubvolumes: btrfsSubvolumes(i),
      mountOptions: [
        { filesystem: "default", options: ["defaults"] },
        { filesystem: "efi", options: ["defaults", "umask=0077"] },
      ],
    },
    // The page found in the branding folder (erase-confirm.qml), named "Confirm" in the sidebar:
    // no word the partition page's choices use, which the boot tier's walk finds by OCR.
    "notesqml-eraseconfirm": {
      qmlSearch: "branding",
      qmlFilename: "erase-confirm",
      qmlLabel: { notes: "Confirm" },
    },
    atomisodeploy: { plan: "/etc/atomiso/install.json" },
    // Runs after a failed job too (with module.desc), so the binds never outlive the install.
    atomisoumount: { emergency: true },
    // Unmount the target even after a failed job, so the disk can be retried or removed.
    umount: { emergency: true },
  };
  // Only modules in the sequence get a config (summary needs none).
  const wanted = new Set<string>([...i.pages, "finished", ...execSequence(i.pages)]);
  wanted.add("shellprocess-checkpayload");
  if (i.pages.includes("partition")) wanted.add("notesqml-eraseconfirm");
  return Object.fromEntries(Object.entries(all).filter(([name]) => wanted.has(name)));
}

export function brandingDesc(o: CalamaresOptions): BrandingDesc {
  const versioned = `${o.productName} ${o.productVersion}`;
  return {
    componentName: o.productId,
    welcomeStyleCalamares: false,
    welcomeExpandingLogo: true,
    // Resizable, not full screen: the live session's openbox maximises it below the network
    // tray, which a full-screen window would cover (docs/live-system.md, Look).
    windowExpanding: "normal",
    windowSize: "960px,600px",
    windowPlacement: "center",
    sidebar: "widget",
    navigation: "widget",
    strings: {
      productName: o.productName,
      shortProductName: o.productName,
      version: o.productVersion,
      shortVersion: o.productVersion,
      versionedName: versioned,
      shortVersionedName: versioned,
      bootloaderEntryName: o.productName,
      ...(o.productUrl ? { productUrl: o.productUrl, supportUrl: o.productUrl } : {}),
    },
    images: { productLogo: "logo.png", productIcon: "icon.png", productWelcome: "welcome.png" },
    style: {
      SidebarBackground: o.sidebarBackground,
      SidebarText: o.sidebarText,
      SidebarTextCurrent: o.sidebarBackground,
      SidebarBackgroundCurrent: o.sidebarText,
    },
    slideshow: "show.qml",
    slideshowAPI: 2,
  };
}

async function brandingImage(
  dir: string,
  name: string,
  size: number,
  colour: string,
): Promise<Buffer> {
  try {
    return await readFile(join(dir, name));
  } catch {
    return defaultLogo(size, colour);
  }
}

/** Image types Calamares' slideshow shows (the schema and the content check allow no others). */
export const SLIDE_EXTENSIONS = [".png", ".jpg", ".jpeg", ".svg"] as const;

export function slideFileName(index: number, image: string): string {
  const ext = extname(image).toLowerCase() || ".png";
  if (!(SLIDE_EXTENSIONS as readonly string[]).includes(ext))
    throw new Error(`slide image ${JSON.stringify(image)}: not a PNG, JPEG or SVG file name`);
  return `slide-${index + 1}${ext}`;
}

/** The erase confirmation page and the check it runs (erase-check.js, shipped as it is). */
async function eraseConfirmFiles(o: CalamaresOptions, root: string): Promise<RenderedFile[]> {
  const qml = renderTemplate(`${ERASE_CONFIRM_DIR}/erase-confirm.qml.ejs`, {
    disksUrl: qmlString(`file://${DISKS_FILE}`),
    title: qmlString("Erase the disk and everything on it?"),
    choice: qmlString(
      `Next erases it and installs ${o.productName}. Back returns to the choice: "Install alongside" and "Replace a partition" keep the other systems where they are offered.`,
    ),
  });
  const check = await readFile(join(packageRoot, ERASE_CONFIRM_DIR, "erase-check.js"), "utf8");
  return [
    { path: `${root}/erase-confirm.qml`, content: qml },
    { path: `${root}/erase-check.js`, content: check },
  ];
}

export async function renderCalamares(o: CalamaresOptions): Promise<RenderedFile[]> {
  const files: RenderedFile[] = [
    { path: "etc/calamares/settings.conf", content: dump(settingsConf(o), "Calamares settings") },
  ];
  for (const [name, conf] of Object.entries(moduleConfigs(o))) {
    files.push({
      path: `etc/calamares/modules/${name}.conf`,
      content: dump(conf, `Calamares module ${name}`),
    });
  }
  const root = `etc/calamares/branding/${o.productId}`;
  files.push({
    path: `${root}/branding.desc`,
    content: dump(brandingDesc(o), "Calamares branding"),
  });
  const slides = o.slides.map((s, i) => ({
    file: qmlString(slideFileName(i, s.image)),
    caption: qmlString(s.caption),
  }));
  files.push({
    path: `${root}/show.qml`,
    content: renderTemplate("branding/show.qml.ejs", {
      installing: qmlString(`Installing ${o.productName}…`),
      background: qmlString(o.sidebarBackground),
      text: qmlString(o.sidebarText),
      slides,
    }),
  });
  files.push(...(await eraseConfirmFiles(o, root)));
  // Stylesheet and translations folder: their absence is a Calamares warning at start-up.
  files.push({
    path: `${root}/stylesheet.qss`,
    content: `/* ${qssComment(o.productName)} installer style. Generated by atomiso. */\n#mainApp { font-size: 11pt; }\n`,
  });
  files.push({
    path: `${root}/lang/README`,
    content: `Translations of the ${refuseControl(o.productName, "README")} branding strings (calamares-${o.productId}_<lang>.qm) go here.\n`,
  });
  const images = [
    ["logo.png", o.images.logo, 128],
    ["icon.png", o.images.icon, 64],
    ["welcome.png", o.images.welcome, 256],
  ] as const;
  for (const [target, source, size] of images) {
    files.push({
      path: `${root}/${target}`,
      content: await brandingImage(o.brandingDir, source, size, o.sidebarBackground),
    });
  }
  for (const [i, s] of o.slides.entries()) {
    files.push({
      path: `${root}/${slideFileName(i, s.image)}`,
      content: await readFile(join(o.brandingDir, s.image)),
    });
  }
  return files;
}

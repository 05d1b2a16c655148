// The [installer] section: what the Calamares installer asks and how it partitions. Every
// option maps to Calamares 3.3 module keys (see docs/installer.md for the mapping).
import { z } from "zod";
import { kernelArgs, mediumUrl, printable, profilePath } from "./fields.js";

export const PAGES = ["welcome", "locale", "keyboard", "partition", "users", "summary"] as const;
export const FILESYSTEMS = ["ext4", "xfs", "btrfs"] as const;
export const SWAP_CHOICES = ["none", "small", "suspend"] as const;
/** A time zone region or zone name as in /usr/share/zoneinfo ("America", "Argentina/Salta"). */
const TZ_PART = /^[A-Za-z0-9_+-]+(?:\/[A-Za-z0-9_+-]+)*$/;

const requirements = z
  .strictObject({
    ram_gib: z
      .number()
      .min(0.5)
      .max(64)
      .default(2)
      .describe("RAM the target machine must have (GiB)."),
    image_gib: z
      .number()
      .min(0.1)
      .max(200)
      .default(2)
      .describe(
        "Size of the unpacked system image (GiB); the root partition must hold it twice (an upgrade keeps two deployments).",
      ),
    internet_check_url: mediumUrl()
      .optional()
      .describe(
        'Online installs ([image] payload = "online") only: the URL the welcome page must reach before the install may start. Default: the registry\'s API root (http(s)://<registry>/v2/). Calamares counts only a successful response, so set this for a registry that answers /v2/ with 401 (ghcr.io, quay.io and Docker Hub do, even for anonymous pulls).',
      ),
  })
  .describe("What the welcome page checks before the installer lets the user go on.");

const locale = z
  .strictObject({
    region: z
      .string()
      .regex(TZ_PART, { error: 'a time zone region such as "Europe"' })
      .default("America")
      .describe("Preselected time zone region."),
    zone: z
      .string()
      .regex(TZ_PART, { error: 'a time zone within the region such as "Berlin"' })
      .default("New_York")
      .describe("Preselected time zone within the region."),
  })
  .describe("The location page (time zone and locale).");

const partition = z
  .strictObject({
    filesystem: z
      .enum(FILESYSTEMS)
      .default("ext4")
      .describe('Root file system of the "Erase disk" layout.'),
    filesystems: z
      .array(z.enum(FILESYSTEMS))
      .min(1)
      .default([...FILESYSTEMS])
      .describe(
        "Root file systems the user may pick. With btrfs among them, a btrfs root gets the subvolumes @ (the system, rootflags=subvol=@), @home (/var/home) and @snapshots (unmounted, for snapshot tools).",
      ),
    swap: z
      .array(z.enum(SWAP_CHOICES))
      .min(1)
      .default(["none", "small"])
      .describe("Swap choices offered (swap partitions; the first is preselected)."),
    encryption: z
      .boolean()
      .default(false)
      .describe(
        "Offer LUKS2 encryption of the root partition (Calamares' \"Encrypt system\", the answer file's encrypt); /boot stays separate and unencrypted. The image's initramfs must unlock it: cryptsetup, systemd-cryptsetup and dracut's crypt module.",
      ),
    manual: z.boolean().default(true).describe('Offer manual partitioning besides "Erase disk".'),
    efi_mib: z
      .int()
      .min(300)
      .max(4096)
      .default(512)
      .describe("Size of the EFI system partition (MiB), mounted at /boot/efi."),
    boot_mib: z
      .int()
      .min(512)
      .max(8192)
      .default(1024)
      .describe(
        "Size of the separate /boot partition (MiB) that holds the ostree deployments' kernels.",
      ),
    root_min_gib: z
      .number()
      .min(2)
      .max(1000)
      .default(8)
      .describe("Smallest root partition the layout accepts (GiB)."),
  })
  .describe(
    'The partition page. Nothing is pre-selected (a pre-selected choice would apply to a disk that holds another system too); "Erase disk" creates GPT with a BIOS boot partition, the ESP, /boot and root; "Install alongside" and "Replace a partition" put the same partitions (without a new ESP: the disk\'s own is reused, never formatted) into the freed or replaced space.',
  );

const users = z
  .strictObject({
    groups: z
      .array(z.string().regex(/^[a-z_][a-z0-9_-]*$/))
      .default(["users"])
      .describe("Groups the new user joins (created if missing)."),
    sudo_group: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]*$/)
      .default("sudo")
      .describe("Group that may use sudo; the new user joins it."),
    root_password: z
      .boolean()
      .default(false)
      .describe("Ask for a separate root password (otherwise root stays locked)."),
    autologin: z.boolean().default(false).describe("Preselect automatic login for the new user."),
    password_min_length: z.int().min(1).max(128).default(8).describe("Minimum password length."),
    weak_passwords: z
      .boolean()
      .default(false)
      .describe("Let the user accept a password that fails the checks."),
    hostname_template: z
      .string()
      .regex(/^(?:[A-Za-z0-9-]|\$\{(?:first|name|login|product|cpu)\})+$/, {
        error:
          "letters, digits, dashes and the placeholders ${first}, ${name}, ${login}, ${product}, ${cpu}",
      })
      .max(63)
      .optional()
      .describe(
        'Suggested hostname; Calamares fills ${first}, ${name}, ${login}, ${product}, ${cpu}. Default "<product.id>-${cpu}".',
      ),
    shell: z
      .string()
      .regex(/^(?:\/[A-Za-z0-9_.+-]+)+$/, { error: 'an absolute path such as "/bin/bash"' })
      .refine((p) => !p.split("/").some((c) => c === "." || c === ".."), {
        error: 'must not contain "." or ".." components',
      })
      .default("/bin/bash")
      .describe("Login shell of the new user."),
  })
  .describe("The users page.");

export const installerSchema = z
  .strictObject({
    pages: z
      .array(z.enum(PAGES))
      .min(1)
      .default([...PAGES])
      .describe(
        "Pages shown before the install, in order. partition and users are required; summary should be last.",
      ),
    requirements: requirements.prefault({}),
    locale: locale.prefault({}),
    partition: partition.prefault({}),
    users: users.prefault({}),
    kernel_args: kernelArgs()
      .default([])
      .describe(
        'Kernel arguments of the installed system, besides root=UUID=… and rw, e.g. ["console=tty0", "console=ttyS0,115200"].',
      ),
    restart: z
      .enum(["never", "user-unchecked", "user-checked", "always"])
      .default("user-unchecked")
      .describe(
        'The finished page\'s "Restart now" box: hidden, unchecked, checked, or restart without asking.',
      ),
  })
  .describe("What the installer asks, and how it partitions the disk.");

export type InstallerConfig = z.output<typeof installerSchema>;

export const slideSchema = z
  .strictObject({
    image: profilePath()
      .regex(/\.(?:png|jpe?g|svg)$/i, { error: "must be a .png, .jpg, .jpeg or .svg file" })
      .describe("Image file in the branding folder (PNG, JPEG or SVG, checked by content)."),
    caption: printable(200).describe("Text shown under the image."),
  })
  .describe("A slide of the installer's slideshow, shown while the system is installed.");

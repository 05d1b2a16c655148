// The atomiso.toml schema: the single source of truth for the config's TypeScript types,
// defaults and descriptions, the generated JSON Schema (schema/atomiso.schema.json) and the
// generated reference (docs/config.md). Paths are relative to the directory of atomiso.toml.
import { z } from "zod";

const debianName = /^[a-z0-9][a-z0-9+.-]+$/;
const hostname = /^(?=.{1,63}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const username = /^[a-z_][a-z0-9_-]{0,31}$/;

export const SUITES = ["trixie", "forky", "sid", "testing", "unstable"] as const;

const product = z
  .strictObject({
    name: z
      .string()
      .min(1)
      .max(64)
      .describe(
        "Product name shown in the installer, the GRUB menu and the live system's os-release.",
      ),
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, {
        error:
          "must be lowercase letters, digits and dashes (at most 32), starting with a letter or digit",
      })
      .describe(
        "Machine-friendly product id: the Calamares branding component name and the default ISO file name.",
      ),
    version: z
      .string()
      .min(1)
      .max(32)
      .default("0.1.0")
      .describe("Product version shown in the installer and written into the ISO file name."),
    url: z.url().optional().describe("Product home page, shown on the installer's welcome page."),
  })
  .describe("What is being installed.");

const repository = z
  .strictObject({
    uri: z.url().describe('Repository base URI, e.g. "http://deb.example.org/debian".'),
    suite: z.string().regex(debianName).describe("Suite (distribution) name of the repository."),
    components: z
      .array(z.string().regex(debianName))
      .min(1)
      .default(["main"])
      .describe("Components to enable."),
    signed_by: z
      .string()
      .min(1)
      .describe(
        "OpenPGP key file (.asc or .gpg) that signs the repository; copied to /etc/apt/keyrings before apt first runs.",
      ),
  })
  .describe("An extra apt repository for the live system.");

const hooks = z
  .strictObject({
    pre: z
      .array(z.string().min(1))
      .default([])
      .describe("Scripts run in the live root's chroot before atomiso's live configuration."),
    post: z
      .array(z.string().min(1))
      .default([])
      .describe("Scripts run in the live root's chroot after atomiso's live configuration."),
  })
  .describe(
    "Customisation scripts, run as root inside the live root (chroot) with /dev, /proc, /sys and /run mounted.",
  );

const live = z
  .strictObject({
    suite: z.enum(SUITES).default("trixie").describe("Debian suite of the live environment."),
    mirror: z
      .url()
      .default("http://deb.debian.org/debian")
      .describe("Debian mirror used by mmdebstrap."),
    components: z
      .array(z.string().regex(debianName))
      .min(1)
      .default(["main"])
      .describe("Mirror components to enable."),
    packages: z
      .array(
        z.string().regex(debianName, {
          error: "must be a Debian package name (lowercase letters, digits, + . -)",
        }),
      )
      .default([])
      .describe(
        "Extra packages installed into the live environment, on top of atomiso's base set.",
      ),
    repositories: z
      .array(repository)
      .default([])
      .describe("Extra apt repositories, each with its signing key."),
    hostname: z
      .string()
      .regex(hostname, {
        error: "must be a valid hostname label (lowercase letters, digits and dashes, at most 63)",
      })
      .default("atomiso-live")
      .describe("Hostname of the live system."),
    user: z
      .string()
      .regex(username, {
        error: "must be a valid user name (lowercase, starting with a letter or _)",
      })
      .default("live")
      .describe("Live user: logged in automatically by SDDM, may use sudo without a password."),
    overlay: z
      .string()
      .min(1)
      .optional()
      .describe("Folder whose files are copied into the live root (like archiso's airootfs)."),
    hooks: hooks.prefault({}),
  })
  .describe("The live environment the installer runs in.");

const iso = z
  .strictObject({
    volume_id: z
      .string()
      .regex(/^[A-Z0-9_-]{1,32}$/, { error: "must be 1 to 32 characters of A-Z, 0-9, _ and -" })
      .describe("ISO 9660 volume id (label) of the image."),
    output: z
      .string()
      .min(1)
      .optional()
      .describe('Where to write the ISO; default "out/<product.id>-<product.version>.iso".'),
    compression: z
      .enum(["zstd", "xz", "gzip", "lz4"])
      .default("zstd")
      .describe("squashfs compression."),
    compression_level: z
      .int()
      .min(1)
      .max(22)
      .optional()
      .describe("Compression level (zstd 1-22, default 15; gzip 1-9)."),
    kernel_args: z
      .array(z.string().min(1))
      .default([])
      .describe("Extra kernel arguments for the live system's boot entries."),
    boot_timeout: z
      .int()
      .min(0)
      .max(300)
      .default(5)
      .describe("Seconds the GRUB menu waits before booting the default entry."),
  })
  .describe("The ISO image.");

const branding = z
  .strictObject({
    folder: z
      .string()
      .min(1)
      .default("branding")
      .describe(
        "Folder with branding assets (logo.png, icon.png, welcome.png); missing files fall back to atomiso's defaults.",
      ),
    sidebar_background: z
      .string()
      .regex(/^#[0-9a-fA-F]{6}$/)
      .default("#1f2a36")
      .describe("Installer sidebar background colour."),
    sidebar_text: z
      .string()
      .regex(/^#[0-9a-fA-F]{6}$/)
      .default("#ffffff")
      .describe("Installer sidebar text colour."),
  })
  .describe("How the installer looks.");

export const configSchema = z
  .strictObject({
    product,
    live: live.prefault({}),
    iso,
    branding: branding.prefault({}),
  })
  .describe("atomiso.toml: the description of one installer ISO.");

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

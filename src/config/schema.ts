// The atomiso.toml schema: the single source of truth for the config's TypeScript types,
// defaults and descriptions, the generated JSON Schema (schema/atomiso.schema.json) and the
// generated reference (docs/config.md). Paths are relative to the directory of atomiso.toml.
import { z } from "zod";
import { parseReference } from "../oci/reference.js";
import {
  kernelArgs,
  mediumUrl,
  printable,
  profilePath,
  taggedReference,
  versionToken,
} from "./fields.js";
import { installerSchema, slideSchema } from "./installer-schema.js";
import { sshPublicKeys } from "./ssh-keys.js";
import { liveUserProblem } from "./system-accounts.js";

const debianName = /^[a-z0-9][a-z0-9+.-]+$/;
const hostname = /^(?=.{1,63}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const username = /^[a-z_][a-z0-9_-]{0,31}$/;

export const SUITES = ["trixie", "forky", "sid", "testing", "unstable"] as const;

const product = z
  .strictObject({
    name: printable(64).describe(
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
    version: versionToken()
      .default("0.1.0")
      .describe("Product version shown in the installer and written into the ISO file name."),
    url: mediumUrl()
      .optional()
      .describe("Product home page, shown on the installer's welcome page."),
  })
  .describe("What is being installed.");

const repository = z
  .strictObject({
    uri: mediumUrl({ apt: true }).describe(
      'Repository base URI, e.g. "http://deb.example.org/debian".',
    ),
    suite: z.string().regex(debianName).describe("Suite (distribution) name of the repository."),
    components: z
      .array(z.string().regex(debianName))
      .min(1)
      .default(["main"])
      .describe("Components to enable."),
    signed_by: profilePath().describe(
      "OpenPGP key file (.asc or .gpg) that signs the repository; copied to /etc/apt/keyrings before apt first runs.",
    ),
  })
  .describe("An extra apt repository for the live system.");

const hooks = z
  .strictObject({
    pre: z
      .array(profilePath())
      .default([])
      .describe("Scripts run in the live root's chroot before atomiso's live configuration."),
    post: z
      .array(profilePath())
      .default([])
      .describe("Scripts run in the live root's chroot after atomiso's live configuration."),
  })
  .describe(
    "Customisation scripts, run as root inside the live root (chroot) with /dev, /proc, /sys and /run mounted.",
  );

const debianMirror = mediumUrl({ apt: true })
  .default("http://deb.debian.org/debian")
  .describe("Debian mirror used by mmdebstrap.");
const debianComponents = z
  .array(z.string().regex(debianName))
  .min(1)
  .default(["main"])
  .describe("Mirror components to enable.");

const debianPackages = z
  .array(
    z.string().regex(debianName, {
      error: "must be a Debian package name (lowercase letters, digits, + . -)",
    }),
  )
  .default([]);

const live = z
  .strictObject({
    suite: z.enum(SUITES).default("trixie").describe("Debian suite of the live environment."),
    mirror: debianMirror,
    components: debianComponents,
    packages: debianPackages.describe(
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
      .superRefine((name, ctx) => {
        const problem = liveUserProblem(name);
        if (problem) ctx.addIssue(problem);
      })
      .default("live")
      .describe(
        "Live user: a new unprivileged account (never root nor a system account of the live root), logged in automatically by SDDM, may use sudo without a password.",
      ),
    overlay: profilePath()
      .optional()
      .describe("Folder whose files are copied into the live root (like archiso's airootfs)."),
    hooks: hooks.prefault({}),
    ssh_keys: sshPublicKeys()
      .default([])
      .describe(
        'For debugging: OpenSSH public keys (each a .pub file\'s line, "ssh-ed25519 AAAA… comment"). When set, the live system runs an SSH server that lets exactly these keys log in as the live user (no passwords, no root login; an ed25519 host key made at each boot). Off by default: without keys openssh-server is not in the live root.',
      ),
    accessibility: z
      .boolean()
      .default(false)
      .describe(
        "A screen reader in the installer session: Orca with speech (speech-dispatcher, eSpeak NG) and the AT-SPI bus Calamares' Qt talks to; the user starts and stops it with Super+Alt+S. About 33 MiB more in the live system (docs/live-system.md), so off by default. The high-contrast boot entry is always there.",
      ),
    splash: z
      .boolean()
      .default(false)
      .describe(
        "A boot splash (Plymouth): the branding's logo on its sidebar colour from when the live system's systemd has the display until X takes it, instead of the kernel's text console (docs/live-system.md, Look). The logo must be a PNG. Under 1 MiB more in the live system; off by default. The debug boot entry never shows it.",
      ),
  })
  .describe("The live environment the installer runs in.");

const iso = z
  .strictObject({
    volume_id: z
      .string()
      .regex(/^[A-Z0-9_-]{1,32}$/, { error: "must be 1 to 32 characters of A-Z, 0-9, _ and -" })
      .describe("ISO 9660 volume id (label) of the image."),
    output: profilePath()
      .refine((p) => p.endsWith(".iso"), { error: 'must end in ".iso"' })
      .optional()
      .describe(
        'Where to write the ISO; default "out/<product.id>-<product.version>.iso". An existing file there is replaced only if it is an ISO with this volume_id (one atomiso wrote); never in a system folder.',
      ),
    compression: z
      .enum(["zstd", "xz", "gzip", "lz4"])
      .default("zstd")
      .describe("squashfs compression."),
    compression_level: z
      .int()
      .min(1)
      .max(22)
      .optional()
      .describe(
        "Compression level (zstd 1-22, default 15; gzip 1-9). Measured by `npm run bench` on the example's live root: zstd 3 compresses 14× faster than 15 for a 10% larger image (a choice for development builds); xz is 6% smaller and 2× slower.",
      ),
    kernel_args: kernelArgs()
      .default([])
      .describe(
        "Extra kernel arguments for the live system's boot entries: `name` or `name=value`, without blanks, quotes or GRUB/shell characters. (`toram` makes live-boot copy the medium to memory on every machine; atomiso's entries already do so in a virtual machine with room for it: docs/live-system.md, Boot.)",
      ),
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
    folder: profilePath()
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
    logo: profilePath()
      .default("logo.png")
      .describe(
        "Product logo in the branding folder (shown in the sidebar); generated when missing.",
      ),
    icon: profilePath()
      .default("icon.png")
      .describe("Window icon in the branding folder; generated when missing."),
    welcome: profilePath()
      .default("welcome.png")
      .describe("Welcome page image in the branding folder; generated when missing."),
    slides: z
      .array(slideSchema)
      .max(20)
      .default([])
      .describe("Slideshow shown during the install; empty: one slide with the product name."),
  })
  .describe("How the installer looks.");

/** What an ostree install needs in the image; `image.base.packages` come on top. */
export const IMAGE_BASE_PACKAGES = [
  "linux-image-amd64",
  "systemd-sysv",
  "ostree",
  "ostree-boot",
  "dracut",
  "grub-pc-bin",
  "grub-efi-amd64-bin",
  "grub2-common",
] as const;

const imageBase = z
  .strictObject({
    name: z
      .string()
      .regex(/^localhost\/[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/, {
        error: 'must be a local image name such as "localhost/atomiso/base" (no tag)',
      })
      .default("localhost/atomiso/base")
      .describe(
        "Local podman image name of the base root; its tag is the content key of the settings below.",
      ),
    build_arg: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .default("BASE_IMAGE")
      .describe(
        "Build argument that receives the base image (name:key); the Containerfile starts with `ARG <build_arg>` and `FROM ${<build_arg>}`.",
      ),
    suite: z.enum(SUITES).default("trixie").describe("Debian suite of the system image."),
    mirror: debianMirror,
    components: debianComponents,
    variant: z
      .enum(["minbase", "apt"])
      .default("minbase")
      .describe("mmdebstrap variant (minbase: Essential, apt and required packages)."),
    packages: debianPackages.describe(
      `Extra packages, on top of the ones an ostree install needs (${IMAGE_BASE_PACKAGES.join(", ")}).`,
    ),
  })
  .describe(
    "A Debian base root made with mmdebstrap and imported into podman, for Containerfiles that start from Debian packages rather than a registry image. Rebuilt only when these settings change.",
  );

/** A full OpenPGP v4 fingerprint: 40 hex digits, no blanks (as `gpg --list-keys` prints it). */
const GPG_FINGERPRINT = /^[0-9A-Fa-f]{40}$/;

const imageSigning = z
  .strictObject({
    gpg_key: z
      .string()
      .regex(GPG_FINGERPRINT, {
        error:
          'must be the signing key\'s full fingerprint, 40 hex digits without blanks (gpg --list-keys --with-colons shows it in its "fpr" line)',
      })
      .transform((s) => s.toUpperCase())
      .describe(
        "Fingerprint of the OpenPGP key `atomiso push` signs the image with (containers' simple signing, through skopeo and the gpg keyring of the user who pushes).",
      ),
    public_key: profilePath().describe(
      "The signing key's public key (`gpg --export --armor <fingerprint>`), .asc or .gpg: carried on the ISO with a containers policy (/etc/containers/policy.json, registries.d) that accepts only images it signed; the installers refuse an unsigned, wrongly signed or tampered image.",
    ),
    lookaside: mediumUrl()
      .optional()
      .describe(
        'http(s) URL where the signatures are published (the folder `atomiso push` writes them to, signatures/ beside atomiso.lock, served as it is): skopeo looks them up there for online installs and for updates of installed systems. Needed for image.payload = "online".',
      ),
  })
  .describe(
    "Sign the pushed image and make installers and installed systems verify it (docs/releases.md). Absent: images are not signed and install as they are.",
  );

const image = z
  .strictObject({
    containerfile: profilePath()
      .default("Containerfile")
      .describe("The Containerfile of the system image."),
    context: profilePath().default(".").describe("Build context folder given to podman build."),
    tag: taggedReference()
      .optional()
      .describe(
        'Local image name the build is tagged with; default "localhost/<product.id>:<product.version>".',
      ),
    build_args: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string())
      .default({})
      .describe("Build arguments (`--build-arg NAME=value`) for the Containerfile."),
    reference: z
      .string()
      .superRefine((text, ctx) => {
        try {
          const ref = parseReference(text, { defaultTag: false });
          if (ref.digest)
            ctx.addIssue("must not contain a digest: the digest is pinned in atomiso.lock");
          else if (!ref.tag) ctx.addIssue('needs a tag, e.g. "registry.example.org/os/system:1.0"');
        } catch (err) {
          ctx.addIssue((err as Error).message);
        }
      })
      .describe(
        'Registry reference the image is pushed to, e.g. "registry.example.org/particleos/system:0.1.0"; `atomiso push` pins its digest in atomiso.lock.',
      ),
    track: z
      .string()
      .superRefine((text, ctx) => {
        try {
          const ref = parseReference(text, { defaultTag: false });
          if (ref.digest) ctx.addIssue("must not contain a digest: a pinned image never updates");
          else if (!ref.tag)
            ctx.addIssue('needs a tag, e.g. "registry.example.org/os/system:stable"');
        } catch (err) {
          ctx.addIssue((err as Error).message);
        }
      })
      .optional()
      .describe(
        'Registry reference installed systems update from (atomiso-update, docs/updates.md), usually a channel tag on a name they can reach, e.g. "registry.example.org/particleos/system:stable"; default image.reference. `atomiso push --channel` moves its tag (in the repository of image.reference) to the pushed image.',
      ),
    auto_update: z
      .boolean()
      .default(false)
      .describe(
        "Installed systems (ostree backend) stage updates of image.track by themselves: the installer enables atomiso-update.timer (daily, never reboots; the staged version boots next time). `atomiso-update status` shows what is staged. Off by default.",
      ),
    tls_verify: z
      .boolean()
      .default(true)
      .describe("Require HTTPS with a valid certificate when talking to the registry."),
    max_size_mib: z
      .int()
      .min(64)
      .max(1024 * 1024)
      .default(8192)
      .describe(
        "Largest unpacked image size (MiB) `atomiso image lint` accepts: the installed system needs about this much on its root partition.",
      ),
    backend: z
      .enum(["auto", "ostree", "bootc"])
      .default("auto")
      .describe(
        'How the installer deploys the image: "auto" takes what `atomiso image lint` found (bootc when the image ships it, else ostree), recorded in atomiso.lock.',
      ),
    stateroot: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]*$/)
      .optional()
      .describe("ostree stateroot (os name) of the installed system; default product.id."),
    payload: z
      .enum(["embedded", "online"])
      .default("embedded")
      .describe(
        'Where the installer gets the pinned image: "embedded" carries it on the ISO (offline installs); "online" pulls it from image.reference\'s registry at install time onto the target disk (a small ISO; the welcome page then requires internet).',
      ),
    compression: z
      .enum(["gzip", "zstd"])
      .default("gzip")
      .describe(
        'How `atomiso push` compresses the image\'s layers. "zstd" installs faster (the example\'s layers unpack about 5× faster, `npm run bench`) and is smaller; it needs zstd in the image (`atomiso image lint` checks: atomiso-update unpacks the layers of updates with it) and, for bootc images, a bootc that reads zstd layers. "gzip" (the default) is what every registry client reads. Images pushed either way install.',
      ),
    base: imageBase.optional(),
    signing: imageSigning.optional(),
  })
  .superRefine((image, ctx) => {
    if (image.signing && !image.signing.lookaside && image.payload === "online")
      ctx.addIssue({
        code: "custom",
        path: ["signing", "lookaside"],
        message:
          'is needed with payload = "online": the installer must fetch the signature of the image it pulls',
      });
  })
  .describe(
    "The bootable system image (OCI) the installer deploys: built with podman, checked with `atomiso image lint`, pushed and pinned with `atomiso push`.",
  );

const files = z
  .strictObject({
    extra_roots: z
      .array(profilePath())
      .max(16)
      .default([])
      .describe(
        'Folders outside the profile\'s folder that the files it names may come from, e.g. ["../../oci"] for a Containerfile shared by several profiles. Everything inside them can reach the ISO or the image build: review them like the profile. System folders (/, /etc, /usr, …) are refused.',
      ),
  })
  .describe(
    "Where the files a profile names may be. By default every file (branding, slides, overlay, hooks, keys, Containerfile, build context) must be inside the folder of atomiso.toml after following symbolic links.",
  );

const release = z
  .strictObject({
    signing_key: z
      .string()
      .regex(/^(?:[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})$/, {
        error:
          "must be a full OpenPGP key fingerprint (40 hex digits, or 64 for a v5 key), without blanks",
      })
      .optional()
      .describe(
        "Fingerprint of the OpenPGP key that signs the release: `atomiso build` and `atomiso release` write SHA256SUMS.asc (a detached, ASCII-armoured signature of SHA256SUMS) with gpg. The secret key must be in the keyring (gnupg_home, else $GNUPGHOME or ~/.gnupg); the build checks that before it starts. Without it SHA256SUMS is written unsigned.",
      ),
    gnupg_home: profilePath()
      .optional()
      .describe(
        "GnuPG home folder holding the signing key (relative to atomiso.toml, or absolute); default $GNUPGHOME, else ~/.gnupg. Nothing from it reaches the ISO.",
      ),
  })
  .describe(
    "Release artifacts written beside the ISO: SHA256SUMS, <iso>.spdx.json (SBOM), <iso>.manifest.json, and a signature when a key is set (docs/releases.md).",
  );

export const configSchema = z
  .strictObject({
    product,
    live: live.prefault({}),
    iso,
    branding: branding.prefault({}),
    installer: installerSchema.prefault({}),
    image: image.optional(),
    files: files.prefault({}),
    release: release.prefault({}),
  })
  .describe("atomiso.toml: the description of one installer ISO.");

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

// The atomiso.toml `atomiso init` writes: the example's settings (so a new project's ISO
// reuses the example's cached base stages) with only the new project's names in it.

export interface ProjectNames {
  /** Product name as the user gave it (plain ASCII, checked by the caller). */
  name: string;
  /** product.id: lowercase letters, digits, dashes. */
  id: string;
  version: string;
}

/** The local development registry `atomiso registry start` runs. */
export const DEV_REGISTRY = "127.0.0.1:5000";

export function volumeIdFor(names: ProjectNames): string {
  return `${names.id}_${names.version}`
    .toUpperCase()
    .replace(/[^A-Z0-9_]/g, "_")
    .slice(0, 32);
}

/** TOML basic string (the name is plain ASCII; JSON escaping is valid TOML for it). */
function str(text: string): string {
  return JSON.stringify(text);
}

export function profileToml(names: ProjectNames): string {
  const { name, id, version } = names;
  return `# ${name}: an installer ISO for an atomic (ostree) Debian system, made with atomiso.
# Reference of every key: docs/config.md in atomiso (its npm package ships docs/ too).
# Build it (as root):
#   atomiso registry start   a local registry on ${DEV_REGISTRY} for the system image
#   atomiso image build      the system image from image/Containerfile
#   atomiso push             pushes it and pins its digest in atomiso.lock (commit that file)
#   atomiso build            the installer ISO, in out/

[product]
name = ${str(name)}
id = ${str(id)}
version = ${str(version)}

[live]
suite = "trixie"
hostname = ${str(`${id}-live`.slice(0, 63))}
user = "live"
# Extra packages for the live environment (atomiso's base set is always installed).
packages = []
# The screen reader (Orca, started with Super+Alt+S in the installer session).
accessibility = true
# A boot splash (Plymouth): the branding's logo on its colour until the installer starts.
splash = true

[iso]
volume_id = ${str(volumeIdFor(names))}
compression = "zstd"

# logo.png, icon.png, welcome.png and the slides are generated placeholders: replace them.
[branding]
folder = "branding"
sidebar_background = "#16324f"
sidebar_text = "#ffffff"

[[branding.slides]]
image = "slide-atomic.png"
caption = ${str(`${name} updates atomically: a new version is staged beside the running one.`)}

[[branding.slides]]
image = "slide-updates.png"
caption = "If an update misbehaves, pick the previous version in the boot menu."

[installer]
pages = ["welcome", "locale", "keyboard", "partition", "users", "summary"]
# The installed system's consoles: the screen and the first serial port.
kernel_args = ["console=tty0", "console=ttyS0,115200"]

[installer.partition]
filesystem = "ext4"
filesystems = ["ext4", "xfs", "btrfs"]
# The image's initramfs unlocks a LUKS root (cryptsetup below): offer encryption.
encryption = true

[installer.users]
groups = ["users"]
sudo_group = "sudo"

# The system image the installer deploys. See docs/image.md.
[image]
containerfile = "image/Containerfile"
context = "image"
tag = ${str(`localhost/${id}/system:${version}`)}
# The local development registry (atomiso registry start): plain HTTP on 127.0.0.1. For a
# release, point this at your registry and remove tls_verify.
reference = ${str(`${DEV_REGISTRY}/${id}/system:${version}`)}
# What installed systems update from (atomiso-update, docs/updates.md); default: reference.
# 127.0.0.1 is the installed system itself: for a release, set a channel tag on a registry
# the installed systems reach, e.g. track = "registry.example.org/${id}/system:stable".
tls_verify = false
max_size_mib = 2048

[image.build_args]
VERSION = ${str(version)}

# A Debian trixie base root from Debian packages (mmdebstrap), on top of atomiso's ostree set
# (kernel, systemd, ostree, ostree-boot, dracut, GRUB for BIOS and UEFI). shim-signed and
# grub-efi-amd64-signed: Secure Boot with Debian's signed chain. cryptsetup and
# systemd-cryptsetup: the initramfs can unlock an encrypted (LUKS) root. skopeo: atomiso-update
# fetches updates with it. dbus, systemd-resolved: a usable system (D-Bus, DNS for the wired
# network systemd-networkd brings up).
[image.base]
suite = "trixie"
packages = [
  "sudo", "iproute2", "openssh-client", "ca-certificates", "less",
  "shim-signed", "grub-efi-amd64-signed",
  "cryptsetup", "systemd-cryptsetup",
  "skopeo", "dbus", "systemd-resolved",
]
`;
}

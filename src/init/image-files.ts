// The system image `atomiso init` writes to image/: a starter of the example's Debian atomic
// image (oci/particleos), with the new project's names. Written from here rather than copied,
// so a project never carries the example's names or comments about the example.
import type { ProjectNames } from "./profile.js";

export function imageFiles(names: ProjectNames): Record<string, string> {
  const { name, id, version } = names;
  return {
    Containerfile: `# ${name}: a Debian trixie system image that installs as an ostree deployment.
#
# \`atomiso image build\` builds it: first a base root from Debian packages (mmdebstrap,
# [image.base] in atomiso.toml), imported into podman and passed in as BASE_IMAGE; then this
# file lays the tree out the way ostree expects (atomiso's docs/image.md):
#   - kernel and a generic initramfs with ostree's dracut module in /usr/lib/modules/$kver,
#     nothing in /boot
#   - /sysroot, /ostree -> sysroot/ostree, the writable top-level folders as links into /var
#   - /etc/default/grub (grub.d/15_ostree needs it), prepare-root.conf without composefs
# Add your own packages to [image.base] packages, and files to rootfs/.
ARG BASE_IMAGE
FROM \${BASE_IMAGE}

# The initramfs's files first, then the slow step (dracut), so edits to rootfs/ do not repeat it.
COPY initramfs/ /
RUN set -eu; \\
    cd /usr/lib/modules; \\
    set -- *; \\
    if [ "$#" -ne 1 ]; then echo "expected one kernel in /usr/lib/modules, found: $*" >&2; exit 1; fi; \\
    kver=$1; \\
    cp "/boot/vmlinuz-$kver" "/usr/lib/modules/$kver/vmlinuz"; \\
    dracut --force --no-hostonly --kver "$kver" "/usr/lib/modules/$kver/initramfs.img"; \\
    find /boot -mindepth 1 -delete; \\
    rm -f /vmlinuz /vmlinuz.old /initrd.img /initrd.img.old; \\
    mkdir /sysroot; \\
    ln -s sysroot/ostree /ostree; \\
    for d in home srv opt mnt; do rmdir "/$d"; ln -s "var/$d" "/$d"; done; \\
    mv /root /var/roothome; \\
    ln -s var/roothome /root; \\
    if [ -d /media ]; then rmdir /media; fi; \\
    ln -s run/media /media; \\
    systemctl enable systemd-networkd.service systemd-resolved.service; \\
    systemctl disable systemd-networkd-wait-online.service

COPY rootfs/ /

# The version last: a new version rebuilds only this small layer (updates fetch only it).
ARG VERSION=${version}
RUN printf '%s\\n' \\
      'NAME="${name}"' \\
      "PRETTY_NAME=\\"${name} \${VERSION}\\"" \\
      "VERSION=\\"\${VERSION}\\"" \\
      "VERSION_ID=\${VERSION}" \\
      'ID=${id}' \\
      'ID_LIKE=debian' \\
      'IMAGE_ID=${id}' \\
      "IMAGE_VERSION=\${VERSION}" \\
      >/usr/lib/os-release

LABEL org.opencontainers.image.title="${name}" \\
      org.opencontainers.image.description="${name}, an atomic Debian trixie system (ostree)" \\
      org.opencontainers.image.version="\${VERSION}" \\
      dev.atomiso.backend="ostree"
`,
    [`initramfs/usr/lib/dracut/dracut.conf.d/50-${id}.conf`]: `# Every initramfs of this system is generic (it boots on any machine) and carries ostree's
# module: ostree-prepare-root mounts the deployment before switch-root. crypt: it can unlock a
# LUKS root named by rd.luks.uuid= (the installer adds it when the root is encrypted).
hostonly="no"
add_dracutmodules+=" ostree crypt "
`,
    "initramfs/usr/lib/ostree/prepare-root.conf": `# Read by ostree-prepare-root in the initramfs. Debian's ostree is built without composefs
# support, so the deployment is mounted the classic way (bind mounts, read-only /usr).
[composefs]
enabled = no

[sysroot]
readonly = false
`,
    "rootfs/etc/hosts": `127.0.0.1\tlocalhost
::1\t\tlocalhost ip6-localhost ip6-loopback
ff02::1\t\tip6-allnodes
ff02::2\t\tip6-allrouters
`,
    "rootfs/etc/default/grub": `# GRUB settings of the installed system. grub.d/15_ostree (ostree-boot) reads this file and
# writes one menu entry per ostree deployment; without it grub-mkconfig adds no entries.
GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR="${name}"
GRUB_CMDLINE_LINUX_DEFAULT="quiet"
GRUB_CMDLINE_LINUX=""
GRUB_DISABLE_OS_PROBER=true
GRUB_DISABLE_RECOVERY=true
`,
    "rootfs/etc/tmpfiles.d/systemd-resolve.conf": `# Replaces systemd-resolved's own rule (same name, so that one is not read): "L+" also
# replaces the empty /etc/resolv.conf the image build leaves, so names resolve through
# resolved's stub.
L+ /etc/resolv.conf - - - - ../run/systemd/resolve/stub-resolv.conf
`,
    [`rootfs/usr/lib/systemd/network/80-${id}-wired.network`]: `# Every wired interface gets an address by DHCP (IPv4 and IPv6 router advertisements).
# Nothing waits for it at boot: systemd-networkd-wait-online is disabled in the image.
[Match]
Name=en* eth*
Type=ether

[Network]
DHCP=yes

[DHCPv4]
UseDomains=yes
`,
    [`rootfs/usr/lib/tmpfiles.d/${id}-ostree.conf`]: `# The top-level folders that are symlinks into /var and /run in an ostree system: create their
# targets at boot (/var is per stateroot and starts out empty on a fresh install).
d /var/home 0755 root root -
d /var/roothome 0700 root root -
d /var/srv 0755 root root -
d /var/opt 0755 root root -
d /var/mnt 0755 root root -
d /run/media 0755 root root -
`,
  };
}

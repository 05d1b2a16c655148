// Accounts the live root already has, so that live.user is always a new unprivileged account:
// the live configuration creates it, gives it a password-less sudo rule and deletes its
// password, which must never happen to root or a system account.
//
// Where the names come from:
// - Debian's base-passwd 3.6 (/usr/share/base-passwd/passwd.master and group.master): the
//   users and groups every Debian root starts with (a user gets a group of its own name, so a
//   group name is taken too).
// - The system users the live root's packages (src/stages/bootstrap.ts BASE_PACKAGES) create
//   in their maintainer scripts or sysusers.d files: systemd (systemd-network,
//   systemd-resolve, systemd-timesync, systemd-coredump, systemd-journal), dbus (messagebus),
//   polkitd (polkitd), sddm (sddm), apt (_apt), plus the ones common recommends add (tss, avahi,
//   rtkit, colord, geoclue, pulse, saned, sshd, dnsmasq, uuidd, tcpdump, usbmux, lightdm).
const BASE_PASSWD_USERS = [
  "root",
  "daemon",
  "bin",
  "sys",
  "sync",
  "games",
  "man",
  "lp",
  "mail",
  "news",
  "uucp",
  "proxy",
  "www-data",
  "backup",
  "list",
  "irc",
  "_apt",
  "nobody",
  "gnats",
];
const BASE_PASSWD_GROUPS = [
  "adm",
  "tty",
  "disk",
  "kmem",
  "dialout",
  "fax",
  "voice",
  "cdrom",
  "floppy",
  "tape",
  "sudo",
  "audio",
  "dip",
  "operator",
  "src",
  "shadow",
  "utmp",
  "video",
  "sasl",
  "plugdev",
  "staff",
  "users",
  "nogroup",
];
const PACKAGE_USERS = [
  "systemd-network",
  "systemd-resolve",
  "systemd-timesync",
  "systemd-coredump",
  "systemd-journal",
  "messagebus",
  "polkitd",
  "sddm",
  "tss",
  "avahi",
  "rtkit",
  "colord",
  "geoclue",
  "pulse",
  "saned",
  "sshd",
  "dnsmasq",
  "uuidd",
  "tcpdump",
  "usbmux",
  "lightdm",
  "input",
  "render",
  "sgx",
  "kvm",
  "netdev",
  "crontab",
  "lpadmin",
  "scanner",
  "bluetooth",
];

export const SYSTEM_ACCOUNTS: ReadonlySet<string> = new Set([
  ...BASE_PASSWD_USERS,
  ...BASE_PASSWD_GROUPS,
  ...PACKAGE_USERS,
]);

/** Why `name` cannot be the live user, or undefined when it can. */
export function liveUserProblem(name: string): string | undefined {
  if (name === "root")
    return '"root" cannot be the live user: it must be a new unprivileged account';
  if (SYSTEM_ACCOUNTS.has(name))
    return `"${name}" is a system account or group of the live root (Debian base-passwd or a live package); the live user must be a new account`;
  if (name.startsWith("systemd-") || name.startsWith("_"))
    return `"${name}" is in the system accounts' namespace (systemd-*, _*); the live user must be a new account`;
  return undefined;
}

// The live system's SSH server ([live] ssh_keys) checked from the host in a booted ISO: the
// boot tier's bios-online install boots the online ISO (test/support/online-iso.ts puts a key
// made here into its profile) with the guest's port 22 forwarded to a free port on the host's
// 127.0.0.1, and while the live system installs, the real ssh client logs in with that key and
// is refused with a password, with another key and as root. test/tools/live-sshd.test.ts checks
// the same configuration on the host's own sshd; this is the ISO's (its package, its systemd
// units, the host keys made at boot).
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { expect } from "vitest";
import { type RunResult, run } from "../../src/tools/exec.js";

/** Where sshd listens in the guest (Debian's default). */
export const SSH_GUEST_PORT = 22;

export interface LiveSshKeys {
  /** The private key whose public half is the profile's [live] ssh_keys entry. */
  configured: string;
  /** That public key's line, as the profile takes it. */
  configuredPublic: string;
  /** A key the profile does not name: must be refused. */
  other: string;
}

/** Two ed25519 keys without passphrase in `dir` (made per run, never kept). */
export async function makeLiveSshKeys(dir: string): Promise<LiveSshKeys> {
  const keygen = (name: string) =>
    run([
      "ssh-keygen",
      "-q",
      "-t",
      "ed25519",
      "-N",
      "",
      "-C",
      `atomiso boot tier ${name}`,
      "-f",
      join(dir, name),
    ]);
  await keygen("configured");
  await keygen("other");
  return {
    configured: join(dir, "configured"),
    configuredPublic: (await readFile(join(dir, "configured.pub"), "utf8")).trim(),
    other: join(dir, "other"),
  };
}

/** A TCP port free on 127.0.0.1 now (QEMU binds it for the host forward soon after). */
export async function freeHostPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Run with the configured key once it logs in. Short lines computed in the guest: the user, the
 * live system's hostname, and whether the host key was made at this boot (its mtime is not
 * older than the boot; keys from the image would carry the build's timestamp).
 */
const LOGIN_COMMANDS = [
  'echo "user=$(id -un)"',
  'echo "host=$(hostname)"',
  "boot=$(( $(date +%s) - $(cut -d. -f1 /proc/uptime) - 2 ))",
  'if [ "$(stat -c %Y /etc/ssh/ssh_host_ed25519_key)" -ge "$boot" ]; then echo hostkey=this-boot; else echo hostkey=older; fi',
  // Not SSH, but this boot is where the live root can be asked: the keyboard preview's
  // ckbcomp, as Calamares runs it at start, comes from the build's cache and says what the real
  // one says (installer-scripts/live/ckbcomp-cached).
  'echo "ckbcomp=$(command -v ckbcomp)"',
  'echo "ckbcomp-cache=$(ls /usr/share/atomiso/ckbcomp)"',
  'if [ "$(ckbcomp -model pc106 -layout us -compact | sha256sum)" = "$(/usr/bin/ckbcomp -model pc106 -layout us -compact | sha256sum)" ]; then echo ckbcomp-same=yes; else echo ckbcomp-same=no; fi',
  // DNS for an online install by name: NetworkManager writes the DHCP server's resolver into
  // /etc/resolv.conf, a plain file (no systemd-resolved in the live root). Given a few seconds,
  // as the login can come as the lease is being applied.
  "for _ in 1 2 3 4 5 6 7 8 9 10; do grep -q '^nameserver ' /etc/resolv.conf 2>/dev/null && break; sleep 1; done",
  "if [ -f /etc/resolv.conf ] && [ ! -L /etc/resolv.conf ]; then echo resolv=file; else echo resolv=not-a-file; fi",
  'echo "nameserver=$(sed -n "s/^nameserver //p" /etc/resolv.conf | head -n 1)"',
].join("; ");

/**
 * OpenSSH 9.8 and later (trixie's) penalise an address for each failed authentication (5 s,
 * enforced once 15 s have added up), and QEMU's user network makes every connection come from
 * the same address: the refused attempts are spaced so that the penalty never applies and each
 * refusal is the server's answer, not a closed door.
 */
const BETWEEN_REFUSALS_MS = 6_000;
const RETRY_MS = 3_000;

export interface LiveSshFindings {
  /** Seconds from the call until the configured key logged in. */
  loginSeconds: number;
  /** Login attempts until then (the earlier ones found no sshd yet). */
  attempts: number;
  /** The successful login (stdout: LOGIN_COMMANDS' lines; stderr: ssh -v). */
  login: RunResult;
  /** The host key the client was shown ("ssh-ed25519 SHA256:…"). */
  hostKey?: string;
  /** Password and keyboard-interactive only, no key. */
  password: RunResult;
  /** A key the profile does not name. */
  otherKey: RunResult;
  /** root with the configured key. */
  root: RunResult;
}

export interface LiveSshCheck {
  /** The host port forwarded to the guest's SSH_GUEST_PORT. */
  port: number;
  /** The live user ([live] user). */
  user: string;
  keys: LiveSshKeys;
  /** Aborted when the live guest is gone: the check stops with the reason. */
  signal?: AbortSignal;
  /** How long the live system may take to accept the key (default 15 minutes). */
  timeoutMs?: number;
}

/** Waits `ms`, or less when `signal` is aborted (the caller then checks it). */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** The ssh client of a test against a throwaway server: verbose (the offered methods), no
 * config file or agent, never a prompt, no host key remembered. */
export const TEST_SSH_CLIENT = [
  "ssh",
  "-v",
  "-F",
  "none",
  "-o",
  "BatchMode=yes",
  "-o",
  "StrictHostKeyChecking=no",
  "-o",
  "UserKnownHostsFile=/dev/null",
  "-o",
  "IdentityAgent=none",
];

function ssh(o: LiveSshCheck, user: string, options: string[], command: string) {
  return run(
    [
      ...TEST_SSH_CLIENT,
      // Covers the TCP connection and the key exchange; the alive probes cover the session.
      "-o",
      "ConnectTimeout=20",
      "-o",
      "ServerAliveInterval=10",
      "-o",
      "ServerAliveCountMax=3",
      "-p",
      String(o.port),
      ...options,
      `${user}@127.0.0.1`,
      command,
    ],
    { okExitCodes: [0, 255], timeoutMs: 120_000 },
  );
}

const withKey = (key: string) => ["-o", "IdentitiesOnly=yes", "-i", key];

/**
 * Logs in with the configured key as soon as the live system's sshd answers (retrying until
 * then), then makes the three attempts that must be refused. Throws when the key is refused,
 * when no login succeeds in time, or when `signal` is aborted first.
 */
export async function liveSshFindings(o: LiveSshCheck): Promise<LiveSshFindings> {
  const started = Date.now();
  const timeoutMs = o.timeoutMs ?? 15 * 60_000;
  const alive = () => {
    if (o.signal?.aborted) {
      throw o.signal.reason instanceof Error
        ? o.signal.reason
        : new Error(`the SSH check was stopped: ${String(o.signal.reason)}`);
    }
  };
  let attempts = 0;
  let login: RunResult | undefined;
  while (!login) {
    alive();
    attempts++;
    const r = await ssh(o, o.user, withKey(o.keys.configured), LOGIN_COMMANDS);
    if (r.exitCode === 0) {
      login = r;
    } else if (/Permission denied/.test(r.stderr)) {
      // sshd answered and refused the key: a finding, not a server still starting.
      throw new Error(
        `the live system's sshd refused the configured key (attempt ${attempts}):\n${r.stderr}`,
      );
    } else if (Date.now() - started > timeoutMs) {
      throw new Error(
        `no SSH login to the live system on 127.0.0.1:${o.port} within ${Math.round(timeoutMs / 1000)} s (${attempts} attempts); the last one said:\n${r.stderr.trim().split("\n").slice(-5).join("\n")}`,
      );
    } else {
      // Before sshd listens, QEMU accepts the connection and then closes it.
      await pause(RETRY_MS, o.signal);
    }
  }
  const loginSeconds = Math.round((Date.now() - started) / 1000);
  const refused = async (user: string, options: string[]) => {
    await pause(BETWEEN_REFUSALS_MS, o.signal);
    alive();
    return ssh(o, user, options, "true");
  };
  const password = await refused(o.user, [
    "-o",
    "PubkeyAuthentication=no",
    "-o",
    "PreferredAuthentications=password,keyboard-interactive",
  ]);
  const otherKey = await refused(o.user, withKey(o.keys.other));
  const root = await refused("root", withKey(o.keys.configured));
  const hostKey = /Server host key: (\S+ \S+)/.exec(login.stderr)?.[1];
  return {
    loginSeconds,
    attempts,
    login,
    ...(hostKey ? { hostKey } : {}),
    password,
    otherKey,
    root,
  };
}

/** The assertions on liveSshFindings' result (`user`: the live user). */
export function expectLiveSsh(f: LiveSshFindings, user: string, hostname: string): void {
  expect(f.login.stderr).toMatch(/Authenticated to 127\.0\.0\.1 .* using "publickey"/);
  expect(f.login.stdout).toMatch(new RegExp(`^user=${user}$`, "m"));
  expect(f.login.stdout).toMatch(new RegExp(`^host=${hostname}$`, "m"));
  expect(f.login.stdout).toMatch(/^hostkey=this-boot$/m);
  expect(f.login.stdout).toMatch(/^ckbcomp=\/usr\/local\/bin\/ckbcomp$/m);
  expect(f.login.stdout).toMatch(/^ckbcomp-cache=pc106-us$/m);
  expect(f.login.stdout).toMatch(/^ckbcomp-same=yes$/m);
  // QEMU's user network hands out 10.0.2.3 as its DNS server.
  expect(f.login.stdout).toMatch(/^resolv=file$/m);
  expect(f.login.stdout).toMatch(/^nameserver=10\.0\.2\.3$/m);

  // Only publickey is offered: a client with nothing but a password cannot even try one.
  const p = f.password.stderr;
  expect(f.password.exitCode, p).toBe(255);
  expect(p, p).toMatch(/Authentications that can continue: publickey\r?$/m);
  expect(p, p).not.toMatch(/Authentications that can continue: .*(password|keyboard)/);
  expect(p, p).toContain("Permission denied (publickey).");
  expect(p, p).not.toContain("Authenticated to");

  for (const [what, r] of [
    ["another key", f.otherKey],
    ["root with the configured key", f.root],
  ] as const) {
    expect(r.exitCode, `${what}:\n${r.stderr}`).toBe(255);
    expect(r.stderr, `${what}:\n${r.stderr}`).toContain("Permission denied (publickey).");
    expect(r.stderr, `${what}:\n${r.stderr}`).not.toContain("Authenticated to");
  }
}

/** The four ssh -v transcripts, for the test's artifacts. */
export function describeLiveSsh(f: LiveSshFindings): string {
  const part = (title: string, r: RunResult) =>
    `## ${title}: exit ${r.exitCode}\n${r.stdout}${r.stderr}`;
  return [
    `login after ${f.loginSeconds} s, ${f.attempts} attempt(s); host key ${f.hostKey ?? "?"}`,
    part("configured key", f.login),
    part("password / keyboard-interactive", f.password),
    part("another key", f.otherKey),
    part("root with the configured key", f.root),
  ].join("\n\n");
}

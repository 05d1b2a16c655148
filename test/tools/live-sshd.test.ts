// The live system's SSH server configuration ([live] ssh_keys), run by the real OpenSSH: the
// rendered sshd_config.d drop-in and authorized_keys file, `sshd -t` on them, then an sshd on
// 127.0.0.1 (no chroot) that must offer publickey only, refuse a password attempt, an unlisted
// key and root with the listed key, and let the listed key in as the live user. The host's
// "nobody" stands in for the live user (its shell refuses a session; authentication is what
// is checked, by ssh -v's "Authenticated to"). The files sit below test-artifacts/: sshd's
// StrictModes refuses an authorized_keys path through a world-writable folder such as /tmp.
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { renderAuthorizedKeys, renderSshdConfig } from "../../src/render/live-ssh.js";
import { run } from "../../src/tools/exec.js";
import { type SpawnedProcess, spawnProcess } from "../../src/tools/spawn.js";
import { TEST_SSH_CLIENT } from "../support/live-ssh.js";

const USER = "nobody";

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => done(typeof address === "object" && address ? address.port : 0));
    });
  });
}

describe("live SSH server (real sshd on 127.0.0.1)", async () => {
  await mkdir(resolve("test-artifacts"), { recursive: true });
  const work = await mkdtemp(resolve("test-artifacts", "sshd-"));
  // sshd reads authorized_keys as the user logging in (nobody here, the live user there).
  await chmod(work, 0o755);
  const privsep = "/run/sshd";
  const madePrivsep = await stat(privsep).then(
    () => false,
    async () => {
      await mkdir(privsep, { mode: 0o755 });
      return true;
    },
  );
  let sshd: SpawnedProcess | undefined;
  afterAll(async () => {
    await sshd?.stop();
    await rm(work, { recursive: true, force: true });
    if (madePrivsep) await rm(privsep, { recursive: true, force: true });
  });

  const keygen = (file: string, type: string) =>
    run(["ssh-keygen", "-q", "-t", type, "-N", "", "-C", `atomiso test ${type}`, "-f", file]);
  await keygen(join(work, "host_key"), "ed25519");
  await keygen(join(work, "listed"), "ed25519");
  await keygen(join(work, "listed-ecdsa"), "ecdsa");
  await keygen(join(work, "unlisted"), "ed25519");
  const pub = async (name: string) => (await readFile(join(work, `${name}.pub`), "utf8")).trim();
  const authorized = join(work, "authorized_keys");
  await writeFile(
    authorized,
    renderAuthorizedKeys([await pub("listed"), await pub("listed-ecdsa")]),
    {
      mode: 0o644,
    },
  );
  const dropIn = join(work, "10-atomiso-live.conf");
  await writeFile(dropIn, renderSshdConfig(USER, authorized, join(work, "host_key")));
  const port = await freePort();
  // Shaped like Debian's sshd_config: the drop-ins first, then the defaults it sets itself.
  const main = join(work, "sshd_config");
  await writeFile(
    main,
    [
      `Include ${dropIn}`,
      "ListenAddress 127.0.0.1",
      `Port ${port}`,
      "PidFile none",
      "UsePAM yes",
      "PrintMotd no",
      "",
    ].join("\n"),
  );

  const ssh = (user: string, extra: string[]) =>
    run(
      [
        ...TEST_SSH_CLIENT,
        "-o",
        "ConnectTimeout=10",
        "-p",
        String(port),
        ...extra,
        `${user}@127.0.0.1`,
        "true",
      ],
      { okExitCodes: [0, 1, 255], timeoutMs: 30_000 },
    );
  const withKey = (name: string) => ["-o", "IdentitiesOnly=yes", "-i", join(work, name)];

  it("sshd -t accepts the rendered configuration", async () => {
    const { exitCode, stderr } = await run(["/usr/sbin/sshd", "-t", "-f", main]);
    expect(exitCode).toBe(0);
    expect(stderr).not.toMatch(/unsupported|deprecated/i);
    const { stdout } = await run([
      "/usr/sbin/sshd",
      "-T",
      "-f",
      main,
      "-C",
      `user=${USER},host=h,addr=127.0.0.1`,
    ]);
    expect(stdout).toMatch(/^passwordauthentication no$/m);
    expect(stdout).toMatch(/^kbdinteractiveauthentication no$/m);
    expect(stdout).toMatch(/^permitrootlogin no$/m);
    expect(stdout).toContain(`authorizedkeysfile ${authorized}\n`);
  });

  it("serves the listed keys only, as the live user only", async () => {
    let listening: () => void = () => {};
    const ready = new Promise<void>((done) => {
      listening = done;
    });
    sshd = spawnProcess(["/usr/sbin/sshd", "-D", "-e", "-f", main], {
      onLine: (line) => {
        if (line.includes(`Server listening on 127.0.0.1 port ${port}`)) listening();
      },
    });
    await Promise.race([
      ready,
      sshd.exited.then((e) => {
        throw new Error(`sshd ended before listening: ${JSON.stringify(e)}`);
      }),
    ]);

    // Passwords and keyboard-interactive are not even offered: publickey is the only method.
    const password = await ssh(USER, [
      "-o",
      "PubkeyAuthentication=no",
      "-o",
      "PreferredAuthentications=password,keyboard-interactive",
    ]);
    expect(password.exitCode).toBe(255);
    expect(password.stderr).toContain("Permission denied (publickey).");
    expect(password.stderr).toMatch(/Authentications that can continue: publickey\r?$/m);
    expect(password.stderr).not.toContain("Authenticated to");

    const unlisted = await ssh(USER, withKey("unlisted"));
    expect(unlisted.exitCode).toBe(255);
    expect(unlisted.stderr).toContain("Permission denied (publickey).");

    const root = await ssh("root", withKey("listed"));
    expect(root.exitCode).toBe(255);
    expect(root.stderr).not.toContain("Authenticated to");

    for (const name of ["listed", "listed-ecdsa"]) {
      const listed = await ssh(USER, withKey(name));
      expect(listed.stderr).toMatch(/Authenticated to 127\.0\.0\.1 .* using "publickey"/);
    }
  });
});

// The release signing key ([release] signing_key, optional gnupg_home): checked before a build
// starts, so a missing key fails in a second instead of after the build; then SHA256SUMS is
// signed with it (detached, ASCII-armoured: SHA256SUMS.asc).
import { rename, rm } from "node:fs/promises";
import { resolve } from "node:path";
import { AtomisoError } from "../errors.js";
import { run } from "../tools/exec.js";
import { gpgDetachSignArgv, gpgListSecretKeyArgv, secretFingerprints } from "../tools/gpg.js";
import { checkTools } from "../tools/host.js";

export interface SigningKey {
  fingerprint: string;
  /** GNUPGHOME (absolute); gpg's default when absent. */
  homedir?: string;
}

export async function checkSigningKey(key: SigningKey, configFile: string): Promise<void> {
  await checkTools(["gpg"]);
  const home = key.homedir ? { homedir: key.homedir } : {};
  const r = await run(gpgListSecretKeyArgv(key.fingerprint, home), { okExitCodes: [0, 2] });
  const found = secretFingerprints(r.stdout).map((f) => f.toUpperCase());
  if (!found.includes(key.fingerprint.toUpperCase())) {
    const where = key.homedir ? `GNUPGHOME ${key.homedir}` : "gpg's default keyring (~/.gnupg)";
    throw new AtomisoError(
      "config-invalid",
      `${configFile}: release.signing_key: ${where} has no secret key with fingerprint ${key.fingerprint}${r.stderr.trim() ? ` (${r.stderr.trim().split("\n").slice(-1)[0]})` : ""}`,
      "import the release key there (`gpg --import key.asc`), set release.gnupg_home to the folder that holds it, or remove release.signing_key to build without a signature",
      2,
    );
  }
}

/** Signs `file` into `<file>.asc`, written under a temp name and renamed into place. */
export async function signDetached(key: SigningKey, file: string): Promise<string> {
  const target = `${file}.asc`;
  const temp = `${target}.partial-${process.pid}`;
  try {
    await run(
      gpgDetachSignArgv(key.fingerprint, file, temp, key.homedir ? { homedir: key.homedir } : {}),
      {
        hint: "gpg could not sign: a key with a passphrase needs a running gpg-agent that can ask for it (or a key without one on the build machine)",
      },
    );
    await rename(temp, target);
  } finally {
    await rm(temp, { force: true });
  }
  return target;
}

/** The profile's [release] key, with gnupg_home resolved against the profile's folder. */
export function signingKeyOf(loaded: {
  dir: string;
  config: { release: { signing_key?: string | undefined; gnupg_home?: string | undefined } };
}): SigningKey | undefined {
  const r = loaded.config.release;
  if (!r.signing_key) return undefined;
  return {
    fingerprint: r.signing_key.toUpperCase(),
    ...(r.gnupg_home ? { homedir: resolve(loaded.dir, r.gnupg_home) } : {}),
  };
}

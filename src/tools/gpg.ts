// gpg (Debian gnupg): detached OpenPGP signatures of a release's SHA256SUMS, and the check that
// the configured signing key is there before a build starts. Batch mode: never a prompt.
export interface GpgHome {
  /** GNUPGHOME; the user's default keyring when absent. */
  homedir?: string;
}

function base(o: GpgHome): string[] {
  return ["gpg", "--batch", "--no-tty", ...(o.homedir ? ["--homedir", o.homedir] : [])];
}

/** Lists the secret key with this fingerprint in colon format (exit 2 when there is none). */
export function gpgListSecretKeyArgv(fingerprint: string, o: GpgHome = {}): string[] {
  return [...base(o), "--with-colons", "--list-secret-keys", "--", fingerprint];
}

/** Detached ASCII-armoured signature of `input` written to `output`. */
export function gpgDetachSignArgv(
  fingerprint: string,
  input: string,
  output: string,
  o: GpgHome = {},
): string[] {
  return [
    ...base(o),
    "--yes",
    // The "!" makes gpg use exactly this (sub)key instead of picking a signing subkey itself.
    "--local-user",
    `${fingerprint}!`,
    "--armor",
    "--detach-sign",
    "--digest-algo",
    "SHA512",
    "--output",
    output,
    "--",
    input,
  ];
}

/** Verifies a detached signature; status lines go to fd 1 so the caller can read VALIDSIG. */
export function gpgVerifyArgv(signature: string, data: string, o: GpgHome = {}): string[] {
  return [...base(o), "--status-fd", "1", "--verify", "--", signature, data];
}

/** Fingerprints of the secret keys in a `--with-colons --list-secret-keys` listing. */
export function secretFingerprints(colons: string): string[] {
  const out: string[] = [];
  for (const line of colons.split("\n")) {
    const f = line.split(":");
    if (f[0] === "fpr" && f[9]) out.push(f[9]);
  }
  return out;
}

/** The fingerprint of a VALIDSIG status line (the key that made a good signature). */
export function validSignatureFingerprint(status: string): string | undefined {
  const m = /^\[GNUPG:\] VALIDSIG ([0-9A-F]{40,64}) /m.exec(status);
  return m?.[1];
}

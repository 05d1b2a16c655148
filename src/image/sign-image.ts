// `atomiso push` with [image.signing]: a containers simple-signing signature of the pushed
// manifest, made by skopeo with the pusher's gpg keyring, checked back by skopeo, and written
// into signatures/ beside atomiso.lock in the lookaside layout (publish that folder at
// image.signing.lookaside for online installs and updates). The ISO build carries it beside
// the payload layout.
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { AtomisoError } from "../errors.js";
import { formatReference, parseReference } from "../oci/reference.js";
import { run } from "../tools/exec.js";
import type { LockSignature } from "./lock.js";
import {
  lookasidePath,
  SIGNATURE_TYPE,
  SIGNATURES_DIR,
  standaloneSignArgv,
  standaloneVerifyArgv,
} from "./signing.js";

export interface SignManifestOptions {
  /** image.reference (with its tag): the identity the signature names. */
  reference: string;
  digest: string;
  /** The manifest's exact bytes, as the registry serves them. */
  manifest: Uint8Array;
  fingerprint: string;
  /** The folder of atomiso.lock; signatures/ is made in it. */
  lockDir: string;
  /** A file holding the key's passphrase (else gpg-agent asks, or the key has none). */
  passphraseFile?: string;
  /** The gpg home with the secret key (default: GNUPGHOME or ~/.gnupg, as gpg has it). */
  gnupgHome?: string;
}

export async function signManifest(o: SignManifestOptions): Promise<LockSignature> {
  const actual = `sha256:${createHash("sha256").update(o.manifest).digest("hex")}`;
  if (actual !== o.digest) {
    throw new AtomisoError(
      "oci-digest-mismatch",
      `the manifest to sign hashes to ${actual}, not the pushed ${o.digest}`,
      "push again; the registry or a proxy rewrote the manifest",
    );
  }
  const identity = formatReference(parseReference(o.reference));
  const file = `${SIGNATURES_DIR}/${lookasidePath(o.reference, o.digest, 1)}`;
  const target = join(o.lockDir, file);
  const env = o.gnupgHome ? { env: { GNUPGHOME: o.gnupgHome } } : {};
  const scratch = await mkdtemp(join(tmpdir(), "atomiso-sign-"));
  try {
    const manifestFile = join(scratch, "manifest.json");
    const signature = join(scratch, "signature-1");
    await writeFile(manifestFile, o.manifest);
    await run(
      standaloneSignArgv(manifestFile, identity, o.fingerprint, signature, o.passphraseFile),
      {
        ...env,
        hint: `gpg must have the secret key ${o.fingerprint} (gpg --list-secret-keys ${o.fingerprint}); give its passphrase in the file named by ATOMISO_SIGNING_PASSPHRASE_FILE, or through gpg-agent`,
      },
    );
    // skopeo reads it back: the key, the identity and the digest it signs.
    await run(standaloneVerifyArgv(manifestFile, identity, o.fingerprint, signature), {
      ...env,
      hint: "skopeo could not verify the signature it has just made; check the gpg keyring",
    });
    const bytes = await readFile(signature);
    await mkdir(dirname(target), { recursive: true });
    const tmp = `${target}.${process.pid}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, target);
    return {
      type: SIGNATURE_TYPE,
      key: o.fingerprint.toUpperCase(),
      file,
      sha256: createHash("sha256").update(bytes).digest("hex"),
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

// A signed variant of the boot tier's online install (test/support/online-iso.ts), on while
// SIGNED_ONLINE_INSTALL is true: a throwaway gpg key signs the example image
// in the online registry (atomiso's own signer, as `atomiso push` does), a lookaside server on
// the host's 127.0.0.1 serves the signatures, and the guest reaches it through a QEMU forward
// at LOOKASIDE_GUEST. The online ISO built with `signing` then carries the key and policy, and
// the installer verifies the image's signature before it touches the disk.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, normalize } from "node:path";
import type { LockSignature } from "../../src/image/lock.js";
import { signManifest } from "../../src/image/sign-image.js";
import { RegistryClient } from "../../src/oci/registry.js";
import type { GuestForward } from "../../src/qemu/index.js";
import { run } from "../../src/tools/exec.js";

/** Build the bios-online case's ISO with [image.signing] (see the integration note in docs). */
export const SIGNED_ONLINE_INSTALL = true;

/** Where the guest finds the signatures (a user-network forward to the host's server). */
export const LOOKASIDE_GUEST = { address: "10.0.2.100", port: 8080 };

export interface SignedImage {
  /** [image.signing] for the online profile (public_key absolute: resolveFrom keeps it). */
  signing: { gpg_key: string; public_key: string; lookaside: string };
  /** For atomiso.lock. */
  signature: LockSignature;
  fingerprint: string;
  guestForward: GuestForward;
  close(): Promise<void>;
}

/**
 * Signs `registryHost`'s copy of `digest` as `reference` (the name the guest pulls) with a new
 * key; signatures go to `profileDir`/signatures, served on 127.0.0.1 until close().
 */
export async function signForGuest(
  scratch: string,
  registryHost: string,
  reference: string,
  digest: string,
  profileDir: string,
): Promise<SignedImage> {
  const gnupgHome = join(scratch, "gnupg");
  await mkdir(gnupgHome, { mode: 0o700 });
  const gpg = (args: string[]) =>
    run(["gpg", "--batch", ...args], { env: { GNUPGHOME: gnupgHome } });
  await gpg(
    ["--passphrase", "", "--quick-gen-key", "ParticleOS test <test@example.org>"].concat([
      "ed25519",
      "sign",
      "never",
    ]),
  );
  const { stdout } = await gpg(["--list-keys", "--with-colons"]);
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(stdout)?.[1];
  if (!fingerprint) throw new Error("gpg made no key");
  const publicKey = join(profileDir, "signing-key.asc");
  await writeFile(publicKey, (await gpg(["--export", "--armor", fingerprint])).stdout);

  const repository = reference.replace(/:[^/:]*$/, "").replace(/^[^/]*\//, "");
  const manifest = await new RegistryClient({ tlsVerify: false }).getManifest(
    `${registryHost}/${repository}@${digest}`,
  );
  const signature = await signManifest({
    reference,
    digest,
    manifest: manifest.bytes,
    fingerprint,
    lockDir: profileDir,
    gnupgHome,
  });

  const root = join(profileDir, "signatures");
  const server: Server = createServer((req, res) => {
    const path = normalize(decodeURIComponent((req.url ?? "/").split("?")[0] ?? "/"));
    readFile(join(root, path))
      .then((data) => res.end(data))
      .catch(() => {
        res.statusCode = 404;
        res.end();
      });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const hostPort = (server.address() as AddressInfo).port;
  return {
    signing: {
      gpg_key: fingerprint,
      public_key: publicKey,
      lookaside: `http://${LOOKASIDE_GUEST.address}:${LOOKASIDE_GUEST.port}`,
    },
    signature,
    fingerprint,
    guestForward: {
      guestAddress: LOOKASIDE_GUEST.address,
      guestPort: LOOKASIDE_GUEST.port,
      hostPort,
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

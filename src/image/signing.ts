// Image signatures ([image.signing]): containers' "simple signing" with an OpenPGP key.
//
// Why simple signing and not sigstore keys: Debian 12's skopeo (1.9) can sign with a sigstore
// private key but cannot make one (`generate-sigstore-key` came later, cosign is not packaged),
// and that key format is cosign's own encrypted one, which no Debian tool writes. gpg, skopeo
// and podman do simple signing end to end, and a signature is one small file: easy to carry
// beside an OCI layout (containers/image cannot store signatures in oci: layouts) and to check
// with gpg alone in the live system (installer-scripts/deploy/verify-payload).
//
// This module renders what verifies signatures (the containers policy, registries.d, the key
// and atomiso's own signing.json) and says where signatures live; push.ts makes them.
import { dump } from "js-yaml";
import { fullName, parseReference } from "../oci/reference.js";
import type { RenderedFile } from "../render/file-tree.js";

export const SIGNATURE_TYPE = "simple-signing";
/** The folder beside atomiso.lock that `atomiso push` writes signatures into (lookaside layout). */
export const SIGNATURES_DIR = "signatures";
/** In the payload layout: the signatures of its image, signature-1, signature-2, … */
export const LAYOUT_SIGNATURES_DIR = "atomiso-signatures";
/** Where the live system and the installed system keep the key and atomiso's signing.json. */
export const SIGNING_DIR = "etc/atomiso/signing";
export const PUBLIC_KEY_PATH = `${SIGNING_DIR}/public-key`;

export interface SigningSettings {
  /** Upper-case 40-hex fingerprint of the signing key. */
  fingerprint: string;
  /** Absolute path of the public key file (armored or binary). */
  publicKey: string;
  /** Where the signatures are published, if they are. */
  lookaside?: string;
}

export interface SigningFilesOptions {
  fingerprint: string;
  /** The public key's bytes, as the profile gives them. */
  publicKey: Buffer;
  /** image.reference: the identity signatures are made for. */
  reference: string;
  /** image.track, if installed systems update from another name. */
  track?: string;
  lookaside?: string;
}

/** registry/repository of a reference (no tag, no digest). */
export function repositoryOf(reference: string): string {
  return fullName(parseReference(reference, { defaultTag: false }));
}

/**
 * The path of signature number `index` (from 1) of a manifest digest under a lookaside base,
 * as containers/image reads it: <repository path>@<algorithm>=<hex>/signature-<n>.
 */
export function lookasidePath(reference: string, digest: string, index = 1): string {
  const { repository } = parseReference(reference, { defaultTag: false });
  const [algorithm, hex] = digest.split(":");
  return `${repository}@${algorithm}=${hex}/signature-${index}`;
}

/**
 * /etc/containers/policy.json: images of the signed repository (and of image.track's, which may
 * name the same registry differently, e.g. from a VM) must carry a valid signature by the key
 * for that repository; everything else stays as Debian's default policy has it.
 */
export function renderPolicy(
  o: Pick<SigningFilesOptions, "reference" | "track"> & {
    /** Where the key is (default /etc/atomiso/signing/public-key; tests use another root). */
    keyPath?: string;
  },
): string {
  const signed = repositoryOf(o.reference);
  const keyPath = o.keyPath ?? `/${PUBLIC_KEY_PATH}`;
  const docker: Record<string, unknown[]> = {
    [signed]: [
      {
        type: "signedBy",
        keyType: "GPGKeys",
        keyPath,
        signedIdentity: { type: "matchRepository" },
      },
    ],
  };
  if (o.track) {
    const tracked = repositoryOf(o.track);
    if (tracked !== signed) {
      docker[tracked] = [
        {
          type: "signedBy",
          keyType: "GPGKeys",
          keyPath,
          signedIdentity: { type: "remapIdentity", prefix: tracked, signedPrefix: signed },
        },
      ];
    }
  }
  const policy = {
    default: [{ type: "insecureAcceptAnything" }],
    transports: {
      docker,
      "docker-daemon": { "": [{ type: "insecureAcceptAnything" }] },
    },
  };
  return `${JSON.stringify(policy, null, 2)}\n`;
}

/** registries.d: where skopeo finds the signatures of the signed repositories. */
export function renderRegistriesD(
  o: Pick<SigningFilesOptions, "reference" | "track" | "lookaside">,
): string | undefined {
  if (!o.lookaside) return undefined;
  const base = o.lookaside.replace(/\/+$/, "");
  const docker: Record<string, { lookaside: string }> = {};
  for (const ref of [o.reference, ...(o.track ? [o.track] : [])]) {
    // containers/image appends the repository path to the base URL itself.
    docker[repositoryOf(ref)] = { lookaside: base };
  }
  return dump({ docker }, { lineWidth: -1, noRefs: true });
}

/** atomiso's own record, read by verify-payload: which key, which identity. */
export function renderSigningJson(o: Pick<SigningFilesOptions, "fingerprint" | "reference">) {
  return `${JSON.stringify(
    {
      type: SIGNATURE_TYPE,
      fingerprint: o.fingerprint.toUpperCase(),
      identity: repositoryOf(o.reference),
    },
    null,
    2,
  )}\n`;
}

/**
 * The files the live system and the installed system get: the key, signing.json, lookaside
 * (a bare URL for fetch-payload), policy.json and registries.d.
 */
export function renderSigningFiles(o: SigningFilesOptions): RenderedFile[] {
  const files: RenderedFile[] = [
    { path: PUBLIC_KEY_PATH, content: o.publicKey },
    { path: `${SIGNING_DIR}/signing.json`, content: renderSigningJson(o) },
    { path: "etc/containers/policy.json", content: renderPolicy(o) },
  ];
  const registries = renderRegistriesD(o);
  if (registries && o.lookaside) {
    files.push(
      { path: `${SIGNING_DIR}/lookaside`, content: `${o.lookaside.replace(/\/+$/, "")}\n` },
      { path: "etc/containers/registries.d/atomiso.yaml", content: registries },
    );
  }
  return files;
}

/** skopeo standalone-sign: a signature of exactly these manifest bytes for this identity. */
export function standaloneSignArgv(
  manifestFile: string,
  identity: string,
  fingerprint: string,
  output: string,
  passphraseFile?: string,
): string[] {
  return [
    "skopeo",
    "standalone-sign",
    ...(passphraseFile ? ["--passphrase-file", passphraseFile] : []),
    "--output",
    output,
    "--",
    manifestFile,
    identity,
    fingerprint,
  ];
}

/** skopeo standalone-verify: the signature's key, identity and manifest digest, checked by skopeo. */
export function standaloneVerifyArgv(
  manifestFile: string,
  identity: string,
  fingerprint: string,
  signature: string,
): string[] {
  return ["skopeo", "standalone-verify", "--", manifestFile, identity, fingerprint, signature];
}

// Stage "payload": the pinned system image as an OCI image layout, copied from the registry by
// digest. It goes on the ISO beside the live squashfs (atomiso/payload), never inside it: the
// live system stays small and the installer reads the image from the medium. The stage is
// keyed by the digest, so the registry is needed once per pinned image, not per build.
// A signed image's signature (from atomiso.lock) travels inside the layout folder, in
// atomiso-signatures/ (containers/image cannot store signatures in an oci: layout), and is
// checked here by the installers' own verify-payload before the ISO is made.
import { createHash } from "node:crypto";
import { copyFile, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { AtomisoError } from "../errors.js";
import { type RegistryAccess, skopeoCopyToLayoutArgv } from "../image/podman.js";
import { LAYOUT_SIGNATURES_DIR, renderSigningFiles, SIGNING_DIR } from "../image/signing.js";
import { refuseCredentialsOverHttp } from "../oci/auth.js";
import { OciLayout } from "../oci/layout.js";
import { parseReference } from "../oci/reference.js";
import { packageRoot } from "../paths.js";
import { writeTree } from "../render/file-tree.js";
import { run } from "../tools/exec.js";
import type { StageDefinition } from "./stage.js";

export interface PayloadSigning {
  /** Absolute path of the signature file atomiso.lock names. */
  signatureFile: string;
  /** Its sha256 as atomiso.lock records it. */
  sha256: string;
  fingerprint: string;
  /** Absolute path of image.signing.public_key. */
  publicKey: string;
  /** image.reference. */
  reference: string;
}

export interface PayloadOptions {
  /** registry/repository@digest from atomiso.lock. */
  pinned: string;
  digest: string;
  /** The tag the layout names the image by (the reference's tag). */
  tag: string;
  access: RegistryAccess;
  signing?: PayloadSigning;
}

export const PAYLOAD_DIR = "payload";

export const payloadStage: StageDefinition<PayloadOptions> = {
  id: "payload",
  title: "Fetch the pinned system image (skopeo)",
  tools: ["skopeo"],
  module: import.meta.url,
  async run(ctx, o) {
    const dir = join(ctx.outDir, PAYLOAD_DIR);
    const source = parseReference(o.pinned);
    await refuseCredentialsOverHttp(source.registry, source.repository, o.access);
    await run(skopeoCopyToLayoutArgv(o.pinned, dir, o.tag, o.access), {
      hint: `the registry must serve ${o.pinned}: start it, or log in (auth.json), or pin again with \`atomiso push\``,
      onLine: (line) => ctx.reporter.detail(line),
    });
    // The layout must hold exactly the pinned manifest, with every blob intact.
    const layout = await OciLayout.open(dir);
    const found = await layout.findManifest(o.tag);
    if (found.digest !== o.digest) {
      throw new AtomisoError(
        "oci-digest-mismatch",
        `the registry served ${found.digest} for ${o.pinned}`,
        "the registry or a proxy rewrote the image; push and pin it again",
      );
    }
    if (o.signing) await carrySignature(ctx.tmpDir, dir, o.digest, o.signing);
    const report = await layout.verifyImage(o.tag);
    ctx.reporter.info(
      `payload ${o.digest.slice(0, 19)}…: ${report.blobs} blobs, ${(report.bytes / 1048576).toFixed(0)} MiB`,
    );
  },
};

/** Copies the signature into the layout and checks it as the installers will. */
async function carrySignature(
  tmpDir: string,
  layoutDir: string,
  digest: string,
  s: PayloadSigning,
): Promise<void> {
  const bytes = await readFile(s.signatureFile).catch(() => {
    throw new AtomisoError(
      "image-unpinned",
      `the signature ${s.signatureFile} that atomiso.lock names is missing`,
      "run `atomiso push` again (it writes signatures/ beside atomiso.lock); commit that folder with the lock",
    );
  });
  const sum = createHash("sha256").update(bytes).digest("hex");
  if (sum !== s.sha256) {
    throw new AtomisoError(
      "oci-digest-mismatch",
      `the signature ${s.signatureFile} hashes to ${sum}, atomiso.lock says ${s.sha256}`,
      "run `atomiso push` again to sign and pin the image",
    );
  }
  const sigDir = join(layoutDir, LAYOUT_SIGNATURES_DIR);
  await mkdir(sigDir);
  await copyFile(s.signatureFile, join(sigDir, "signature-1"));
  const root = join(tmpDir, "signing");
  await writeTree(
    root,
    renderSigningFiles({
      fingerprint: s.fingerprint,
      publicKey: await readFile(s.publicKey),
      reference: s.reference,
    }),
  );
  await run(
    [
      join(packageRoot, "installer-scripts/deploy/verify-payload"),
      layoutDir,
      digest,
      "--signed-by",
      join(root, SIGNING_DIR),
    ],
    {
      hint: "the installers would refuse this image: sign it with the key in image.signing (atomiso push), or correct image.signing.public_key",
    },
  );
}

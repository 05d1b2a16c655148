// Stage "payload": the pinned system image as an OCI image layout, copied from the registry by
// digest. It goes on the ISO beside the live squashfs (atomiso/payload), never inside it: the
// live system stays small and the installer reads the image from the medium. The stage is
// keyed by the digest, so the registry is needed once per pinned image, not per build.
import { join } from "node:path";
import { AtomisoError } from "../errors.js";
import { type RegistryAccess, skopeoCopyToLayoutArgv } from "../image/podman.js";
import { refuseCredentialsOverHttp } from "../oci/auth.js";
import { OciLayout } from "../oci/layout.js";
import { parseReference } from "../oci/reference.js";
import { run } from "../tools/exec.js";
import type { StageDefinition } from "./stage.js";

export interface PayloadOptions {
  /** registry/repository@digest from atomiso.lock. */
  pinned: string;
  digest: string;
  /** The tag the layout names the image by (the reference's tag). */
  tag: string;
  access: RegistryAccess;
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
    const report = await layout.verifyImage(o.tag);
    ctx.reporter.info(
      `payload ${o.digest.slice(0, 19)}…: ${report.blobs} blobs, ${(report.bytes / 1048576).toFixed(0)} MiB`,
    );
  },
};

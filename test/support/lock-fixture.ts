// A pinned example image (atomiso.lock contents) shared by the lock and plan unit tests.
import type { ImageLock } from "../../src/image/lock.js";

export const D1 = `sha256:${"a".repeat(64)}`;
export const D2 = `sha256:${"b".repeat(64)}`;

export const LOCK: ImageLock = {
  reference: "127.0.0.1:5000/particleos/system:0.1.0",
  digest: D1,
  pinned: `127.0.0.1:5000/particleos/system@${D1}`,
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  size: 274_000_000,
  unpackedSize: 480_000_000,
  configDigest: D2,
  created: new Date("2026-11-22T05:36:36.548Z"),
  pushed: new Date("2026-11-22T06:00:00.000Z"),
  backend: "ostree",
  kernel: "6.12.48+deb13-amd64",
  luks: true,
  version: "0.1.0",
  tlsVerify: false,
};

// The [image] section of atomiso.toml resolved for the image pipeline: absolute paths, the
// local tag, the full base package list and where the lock file lives.
import { dirname, join } from "node:path";
import type { LoadedConfig } from "../config/load.js";
import { resolveFrom } from "../config/paths.js";
import { IMAGE_BASE_PACKAGES } from "../config/schema.js";
import { AtomisoError } from "../errors.js";
import type { SigningSettings } from "./signing.js";

export const LOCK_FILE_NAME = "atomiso.lock";

export type LayerCompression = "gzip" | "zstd";

export interface BaseRootSettings {
  /** Local image name without tag; the tag is the content key. */
  name: string;
  buildArg: string;
  suite: string;
  mirror: string;
  components: string[];
  variant: "minbase" | "apt";
  /** IMAGE_BASE_PACKAGES plus the profile's, sorted and unique. */
  packages: string[];
  arch: string;
}

export interface ImageSettings {
  containerfile: string;
  context: string;
  /** Local image name the build is tagged with. */
  tag: string;
  buildArgs: Record<string, string>;
  /** Registry reference the image is pushed to (with a tag). */
  reference: string;
  /** Registry reference installed systems update from (image.track), if set. */
  track?: string;
  tlsVerify: boolean;
  maxSizeBytes: number;
  base?: BaseRootSettings;
  /** atomiso.lock next to atomiso.toml. */
  lockFile: string;
  /** How push compresses the layers (image.compression). */
  compression: LayerCompression;
  /** [image.signing]: push signs, the image carries the policy that checks it. */
  signing?: SigningSettings;
}

export function lockFileFor(configFile: string): string {
  return join(dirname(configFile), LOCK_FILE_NAME);
}

export function imageSettings(loaded: LoadedConfig): ImageSettings {
  const { config, dir, file } = loaded;
  const image = config.image;
  if (!image) {
    throw new AtomisoError(
      "config-invalid",
      `${file} has no [image] section, so there is no system image to build, lint or push`,
      "add an [image] section (see docs/image.md and examples/particleos/atomiso.toml)",
      2,
    );
  }
  const settings: ImageSettings = {
    containerfile: resolveFrom(dir, image.containerfile),
    context: resolveFrom(dir, image.context),
    tag: image.tag ?? `localhost/${config.product.id}:${config.product.version}`,
    buildArgs: { ...image.build_args },
    reference: image.reference,
    tlsVerify: image.tls_verify,
    maxSizeBytes: image.max_size_mib * 1024 * 1024,
    compression: image.compression,
    lockFile: lockFileFor(file),
  };
  if (image.track) settings.track = image.track;
  if (image.signing) {
    settings.signing = {
      fingerprint: image.signing.gpg_key,
      publicKey: resolveFrom(dir, image.signing.public_key),
      ...(image.signing.lookaside ? { lookaside: image.signing.lookaside } : {}),
    };
  }
  if (image.base) {
    const b = image.base;
    settings.base = {
      name: b.name,
      buildArg: b.build_arg,
      suite: b.suite,
      mirror: b.mirror,
      components: [...b.components],
      variant: b.variant,
      packages: [...new Set([...IMAGE_BASE_PACKAGES, ...b.packages])].sort(),
      arch: "amd64",
    };
  }
  return settings;
}

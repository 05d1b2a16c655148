// The online variant of the example ISO ([image] payload = "online") and a registry for it to
// pull from, for the boot tier's online installs (unattended and through Calamares).
// The registry is Debian's docker-registry on the host's 127.0.0.1, holding the example image
// copied by digest from the example ISO's payload; a guest reaches it only through QEMU's
// user-network forward from ONLINE_REFERENCE's 10.0.2.100:5000 (restrict=on). The profile is
// the example with image.reference on that address, built from the same stage cache, and with
// [live] ssh_keys set to a key made for this run (test/support/live-ssh.ts): its live system
// runs an SSH server, which the bios-online install checks from the host.
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { runPlan } from "../../src/build/runner.js";
import { loadConfig } from "../../src/config/load.js";
import { type ImageLock, writeLock } from "../../src/image/lock.js";
import { silentReporter } from "../../src/log/reporter.js";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { fullName, parseReference } from "../../src/oci/reference.js";
import { defaultCacheDir } from "../../src/paths.js";
import { planIso } from "../../src/plan/plan.js";
import type { GuestForward } from "../../src/qemu/index.js";
import { run } from "../../src/tools/exec.js";
import { type LiveSshKeys, makeLiveSshKeys } from "./live-ssh.js";
import { pushLayout, startRegistry, stopRegistry, type TestRegistry } from "./registry.js";
import { SIGNED_ONLINE_INSTALL, type SignedImage, signForGuest } from "./signed-image.js";

export const EXAMPLE_PROFILE = resolve(
  import.meta.dirname,
  "../../examples/particleos/atomiso.toml",
);
/** The registry as an online test guest sees it (a QEMU user-network forward). */
const GUEST_REGISTRY = { address: "10.0.2.100", port: 5000 };
export const ONLINE_REFERENCE = `${GUEST_REGISTRY.address}:${GUEST_REGISTRY.port}/particleos/system:0.1.0`;
/** ONLINE_REFERENCE without its tag: the repository an online install pulls by digest. */
export const ONLINE_REPOSITORY = fullName(parseReference(ONLINE_REFERENCE));

export interface OnlineIso {
  iso: string;
  registry: TestRegistry;
  guestForwards: GuestForward[];
  /** With SIGNED_ONLINE_INSTALL: the key that signed the image and its lookaside server. */
  signed?: SignedImage;
  /** The live system's SSH server: the profile's key (and another one), and its user. */
  ssh: { keys: LiveSshKeys; user: string; hostname: string };
}

/**
 * Starts a registry under `scratch` with the image of `embeddedIso`'s payload and builds the
 * online ISO into `scratch`. The caller stops the registry (stopRegistry) when done.
 */
export async function onlineIso(
  scratch: string,
  embeddedIso: string,
  lock: ImageLock,
): Promise<OnlineIso> {
  const payload = join(scratch, "payload");
  await run(["osirrox", "-indev", embeddedIso, "-extract", "/atomiso/payload", payload]);
  const registry = await startRegistry(scratch, "online");
  let signed: SignedImage | undefined;
  try {
    await pushLayout(payload, registry, "particleos/system:0.1.0");
    await safeRemove(payload);
    await mkdir(join(scratch, "profile"));
    signed = SIGNED_ONLINE_INSTALL
      ? await signForGuest(
          scratch,
          registry.host,
          ONLINE_REFERENCE,
          lock.digest,
          join(scratch, "profile"),
        )
      : undefined;

    const sshDir = join(scratch, "ssh");
    await mkdir(sshDir, { mode: 0o700 });
    const sshKeys = await makeLiveSshKeys(sshDir);

    const loaded = structuredClone(await loadConfig(EXAMPLE_PROFILE));
    if (!loaded.config.image) throw new Error("the example has an [image]");
    loaded.config.live = { ...loaded.config.live, ssh_keys: [sshKeys.configuredPublic] };
    loaded.config.image = {
      ...loaded.config.image,
      reference: ONLINE_REFERENCE,
      payload: "online",
      tls_verify: false,
      ...(signed ? { signing: signed.signing } : {}),
    };
    loaded.config.iso.output = join(scratch, "online.iso");
    loaded.file = join(scratch, "profile", "atomiso.toml");
    await writeLock(join(scratch, "profile", "atomiso.lock"), {
      ...lock,
      reference: ONLINE_REFERENCE,
      pinned: `${ONLINE_REPOSITORY}@${lock.digest}`,
      tlsVerify: false,
      ...(signed ? { signature: signed.signature } : {}),
    });
    const built = await runPlan(await planIso(loaded), {
      cacheDir: defaultCacheDir(),
      reporter: silentReporter,
    });
    if (!built.iso) throw new Error("the online ISO was not built");
    const port = Number(registry.host.split(":").at(-1));
    return {
      iso: built.iso,
      registry,
      guestForwards: [
        { guestAddress: GUEST_REGISTRY.address, guestPort: GUEST_REGISTRY.port, hostPort: port },
        ...(signed ? [signed.guestForward] : []),
      ],
      ...(signed ? { signed } : {}),
      ssh: { keys: sshKeys, user: loaded.config.live.user, hostname: loaded.config.live.hostname },
    };
  } catch (err) {
    await signed?.close();
    await stopRegistry(registry);
    throw err;
  }
}

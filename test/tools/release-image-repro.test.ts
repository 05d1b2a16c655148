// podman build --timestamp (what `atomiso image build` passes from SOURCE_DATE_EPOCH): two
// builds of the same Containerfile without podman's layer cache, with the input's file times
// changed in between, give the same image id and, pushed to OCI layouts, the same manifest digest.
import { mkdir, mkdtemp, readFile, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { podmanBuildArgv, podmanRemoveImageArgv } from "../../src/image/podman.js";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { OciLayout } from "../../src/oci/layout.js";
import { run } from "../../src/tools/exec.js";

const EPOCH = 1_700_000_000;

describe("podman build --timestamp", async () => {
  const work = await mkdtemp(join(tmpdir(), "atomiso-image-repro-"));
  const tag = `localhost/atomiso-repro-test-${process.pid}`;
  afterAll(async () => {
    await run(podmanRemoveImageArgv([`${tag}:1`, `${tag}:2`, `${tag}:3`]), {
      okExitCodes: [0, 1, 2],
    });
    await safeRemove(work);
  });
  const context = join(work, "context");
  await mkdir(join(context, "etc"), { recursive: true });
  await writeFile(join(context, "etc", "os-release"), "ID=repro\n");
  await writeFile(
    join(context, "Containerfile"),
    "FROM scratch\nCOPY etc /etc\nLABEL org.opencontainers.image.version=1.0\n",
  );

  async function build(n: number, timestamp?: number): Promise<{ id: string; digest: string }> {
    const iidFile = join(work, `iid${n}`);
    await run(
      podmanBuildArgv({
        containerfile: join(context, "Containerfile"),
        context,
        tag: `${tag}:${n}`,
        buildArgs: {},
        iidFile,
        noCache: true,
        ...(timestamp !== undefined ? { timestamp } : {}),
      }),
    );
    const dir = join(work, `layout${n}`);
    await run(["podman", "push", "--quiet", `${tag}:${n}`, `oci:${dir}:image`]);
    const layout = await OciLayout.open(dir);
    return {
      id: (await readFile(iidFile, "utf8")).trim(),
      digest: (await layout.findManifest("image")).digest,
    };
  }

  const first = await build(1, EPOCH);
  await utimes(join(context, "etc", "os-release"), EPOCH + 5000, EPOCH + 5000);
  await new Promise((r) => setTimeout(r, 1100));
  const second = await build(2, EPOCH);
  const unpinned = await build(3);

  it("gives the same image id and manifest digest twice", () => {
    expect(second.id).toBe(first.id);
    expect(second.digest).toBe(first.digest);
  });

  it("differs without it (the created time is the build's own)", () => {
    expect(unpinned.digest).not.toBe(first.digest);
  });
});

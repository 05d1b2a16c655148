// The lint rules on synthetic trees: an installable layout passes, and each thing that makes
// an image uninstallable is reported once, with its rule and a message that says what to do.
import { chmod, mkdir, mkdtemp, rename, rm, symlink, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { fakeBzImage, kernelReleaseFromBuffer } from "../../src/image/kernel-version.js";
import {
  chooseBackend,
  composefsSetting,
  formatFinding,
  formatSummary,
  type ImageMeta,
  lintTree,
} from "../../src/image/lint.js";
import { lintImage } from "../../src/image/lint-image.js";
import { lookup, treeSize } from "../../src/image/tree.js";
import { silentReporter } from "../../src/log/reporter.js";
import { KVER, link, makeInstallableTree, put } from "../support/image-tree.js";

const work = await mkdtemp(join(tmpdir(), "atomiso-lint-"));
afterAll(() => rm(work, { recursive: true, force: true }));

let root: string;
let n = 0;
beforeEach(async () => {
  root = join(work, `tree-${n++}`);
  await makeInstallableTree(root);
});

const LIMIT = { maxSizeBytes: 4096 * 1024 * 1024 };
const META: ImageMeta = {
  labels: { "org.opencontainers.image.version": "1.0", "dev.atomiso.backend": "ostree" },
  size: 500 * 1024 * 1024,
  architecture: "amd64",
};

const lint = (meta: ImageMeta = META) => lintTree(root, meta, LIMIT);
const rules = async (meta?: ImageMeta) =>
  (await lint(meta)).findings.map((f) => `${f.level}:${f.rule}`);

describe("lintTree", () => {
  it("passes an installable ostree layout", async () => {
    const report = await lint();
    expect(report.findings).toEqual([]);
    expect(report).toMatchObject({ ok: true, backend: "ostree", kernel: KVER, errors: 0 });
  });

  it("reports a kernel in /boot", async () => {
    await rename(join(root, `usr/lib/modules/${KVER}/vmlinuz`), join(root, `boot/vmlinuz-${KVER}`));
    const report = await lint();
    expect(report.ok).toBe(false);
    expect(report.findings.map(formatFinding)).toEqual([
      expect.stringMatching(
        /^error: kernel: the kernel is in \/boot \(vmlinuz-6\.1\.0-atomiso-test\), not at \/usr\/lib\/modules\/<kver>\/vmlinuz/,
      ),
      expect.stringMatching(
        /^error: boot-empty: \/boot is not empty \(vmlinuz-6\.1\.0-atomiso-test\)/,
      ),
    ]);
  });

  it("reports a missing kernel", async () => {
    await unlink(join(root, `usr/lib/modules/${KVER}/vmlinuz`));
    const [finding] = (await lint()).findings;
    expect(finding?.message).toMatch(/^no kernel: .*module folders: 6\.1\.0-atomiso-test/);
  });

  it("reports a missing initramfs and points at the one in /boot", async () => {
    await rename(
      join(root, `usr/lib/modules/${KVER}/initramfs.img`),
      join(root, `boot/initrd.img-${KVER}`),
    );
    expect(await rules()).toEqual(["error:initramfs", "error:boot-empty"]);
    const [finding] = (await lint()).findings;
    expect(finding?.message).toContain(`no initramfs at /usr/lib/modules/${KVER}/initramfs.img`);
    expect(finding?.message).toContain(`/boot has initrd.img-${KVER}`);
    expect(finding?.message).toContain(`dracut --no-hostonly --kver ${KVER}`);
  });

  it("reports an empty initramfs", async () => {
    await writeFile(join(root, `usr/lib/modules/${KVER}/initramfs.img`), "");
    expect(await rules()).toEqual(["error:initramfs"]);
  });

  it("reports a kernel whose version does not match its module folder", async () => {
    await writeFile(join(root, `usr/lib/modules/${KVER}/vmlinuz`), fakeBzImage("6.9.9-other"));
    const [finding] = (await lint()).findings;
    expect(finding).toMatchObject({ level: "error", rule: "kernel" });
    expect(finding?.message).toContain("is kernel 6.9.9-other");
  });

  it("warns when the kernel version cannot be read", async () => {
    await writeFile(join(root, `usr/lib/modules/${KVER}/vmlinuz`), "not a kernel");
    expect(await rules()).toEqual(["warning:kernel"]);
  });

  it("reports two kernels", async () => {
    await put(root, "usr/lib/modules/6.2.0-two/vmlinuz", fakeBzImage("6.2.0-two"));
    const [finding] = (await lint()).findings;
    expect(finding?.message).toMatch(/^2 kernels in \/usr\/lib\/modules/);
  });

  it("requires zstd in an ostree image pushed with zstd layers (atomiso-update unpacks them)", async () => {
    const zstd = { ...LIMIT, compression: "zstd" as const };
    expect((await lintTree(root, META, zstd)).findings.map(formatFinding)).toEqual([
      expect.stringMatching(
        /^error: zstd: image.compression = "zstd" but the image has no \/usr\/bin\/zstd/,
      ),
    ]);
    await put(root, "usr/bin/zstd", "");
    expect((await lintTree(root, META, zstd)).findings).toEqual([]);
    // gzip layers need nothing more.
    await unlink(join(root, "usr/bin/zstd"));
    expect((await lintTree(root, META, { ...LIMIT, compression: "gzip" })).findings).toEqual([]);
  });

  it("reports a missing ostree for the ostree backend", async () => {
    await unlink(join(root, "usr/bin/ostree"));
    const report = await lint();
    expect(report.findings.map(formatFinding)).toEqual([
      expect.stringMatching(
        /^error: ostree: ostree is not installed \(\/usr\/bin\/ostree missing\)/,
      ),
    ]);
  });

  it("reports the bootloader pieces the ostree backend needs", async () => {
    await unlink(join(root, "etc/default/grub"));
    await unlink(join(root, "usr/sbin/grub-install"));
    await rm(join(root, "usr/lib/grub/i386-pc"), { recursive: true });
    expect(await rules()).toEqual(["error:bootloader", "warning:bootloader", "error:bootloader"]);
  });

  it("warns when the signed shim chain for Secure Boot is missing", async () => {
    await unlink(join(root, "usr/lib/shim/shimx64.efi.signed"));
    expect((await lint()).findings.map(formatFinding)).toEqual([
      "warning: secure-boot: no /usr/lib/shim/shimx64.efi.signed: installed systems boot on UEFI only with Secure Boot off (Debian: shim-signed, grub-efi-amd64-signed)",
    ]);
  });

  it("records whether the initramfs can unlock a LUKS root (systemd-cryptsetup)", async () => {
    expect((await lint()).luks).toBe(false);
    await put(root, "usr/lib/systemd/systemd-cryptsetup", "");
    const report = await lint();
    expect(report.luks).toBe(true);
    expect(report.findings).toEqual([]);
    expect(formatSummary("img", report)).toContain("LUKS root can be unlocked");
  });

  it("chooses bootc when the image ships bootc, and then needs neither ostree nor GRUB", async () => {
    await put(root, "usr/bin/bootc", "");
    await unlink(join(root, "usr/bin/ostree"));
    await unlink(join(root, "etc/default/grub"));
    const report = await lint({ ...META, labels: { "containers.bootc": "1" } });
    expect(report.backend).toBe("bootc");
    expect(report.findings.map((f) => f.rule)).toEqual(["labels"]);
  });

  it("warns about bootc without its label, and fails a label without bootc", async () => {
    await put(root, "usr/bin/bootc", "");
    expect(await rules({ ...META, labels: { "org.opencontainers.image.version": "1" } })).toEqual([
      "warning:backend",
    ]);
    await unlink(join(root, "usr/bin/bootc"));
    const report = await lint({ ...META, labels: { "containers.bootc": "1" } });
    expect(report.backend).toBe("ostree");
    expect(report.findings.map(formatFinding)).toContainEqual(
      expect.stringMatching(
        /^error: backend: label containers.bootc=1 but \/usr\/bin\/bootc is missing/,
      ),
    );
  });

  it("reports device nodes (or anything) in /dev", async () => {
    await writeFile(join(root, "dev/null"), "");
    expect(await rules()).toEqual(["error:dev-empty"]);
  });

  it("reports a missing /sysroot and a wrong /ostree link", async () => {
    await rm(join(root, "sysroot"), { recursive: true });
    await unlink(join(root, "ostree"));
    await symlink("var/ostree", join(root, "ostree"));
    const report = await lint();
    expect(report.findings.map((f) => f.message)).toEqual([
      "no /sysroot folder: ostree mounts the physical root there; create it empty",
      "/ostree is a link to var/ostree: it must be a link to sysroot/ostree",
    ]);
  });

  it("reports missing mount points", async () => {
    await rm(join(root, "proc"), { recursive: true });
    await rm(join(root, "etc"), { recursive: true });
    const layout = (await lint()).findings.filter((f) => f.rule === "layout");
    expect(layout.map((f) => f.message.split(":")[0])).toEqual([
      "/etc is missing",
      "/proc is missing",
    ]);
  });

  it("warns about writable folders that are not links, and link targets nothing creates", async () => {
    await unlink(join(root, "home"));
    await mkdir(join(root, "home"));
    await put(root, "usr/lib/tmpfiles.d/atomiso-test.conf", "d /var/home 0755 root root -\n");
    const report = await lint();
    expect(report.ok).toBe(true);
    expect(report.findings.map(formatFinding)).toEqual([
      "warning: writable-links: /home is a folder: it is read-only on the installed system; make it a link to var/home",
      'warning: tmpfiles: /root links to var/roothome but no tmpfiles.d line creates /var/roothome at boot (e.g. "d /var/roothome 0755 root root -")',
      'warning: tmpfiles: /srv links to var/srv but no tmpfiles.d line creates /var/srv at boot (e.g. "d /var/srv 0755 root root -")',
      'warning: tmpfiles: /opt links to var/opt but no tmpfiles.d line creates /var/opt at boot (e.g. "d /var/opt 0755 root root -")',
      'warning: tmpfiles: /mnt links to var/mnt but no tmpfiles.d line creates /var/mnt at boot (e.g. "d /var/mnt 0755 root root -")',
    ]);
  });

  it("warns about a machine id, composefs and a missing version label", async () => {
    await writeFile(join(root, "etc/machine-id"), "0123456789abcdef0123456789abcdef\n");
    await writeFile(join(root, "usr/lib/ostree/prepare-root.conf"), "[composefs]\nenabled = yes\n");
    expect(await rules({ ...META, labels: {} })).toEqual([
      "warning:prepare-root",
      "warning:machine-id",
      "warning:labels",
    ]);
  });

  it("fails an image larger than the limit, and a foreign architecture", async () => {
    const report = await lint({ ...META, size: 5000 * 1024 * 1024, architecture: "arm64" });
    expect(report.findings.map((f) => f.rule)).toEqual(["architecture", "size"]);
    expect(report.findings[1]?.message).toContain("5000 MiB unpacked, more than the 4096 MiB");
  });

  it("resolves absolute links inside the tree, never on the host", async () => {
    await unlink(join(root, "usr/bin/ostree"));
    await put(root, "usr/libexec/ostree-real", "");
    await link(root, "usr/bin/ostree", "/usr/libexec/ostree-real");
    expect(await rules()).toEqual([]);
    // /usr/bin/env exists on the host, not in the tree.
    await unlink(join(root, "usr/bin/ostree"));
    await link(root, "usr/bin/ostree", "/usr/bin/env");
    expect(await rules()).toEqual(["error:ostree"]);
    expect((await lookup(root, "/bin/ostree")).kind).toBe("missing");
    expect((await lookup(root, "/bin/../usr/lib/ostree/prepare-root.conf")).kind).toBe("file");
  });

  it("summarises", async () => {
    const good = await lint();
    expect(formatSummary("img", good)).toBe(
      `img: installable with the ostree backend (kernel ${KVER}, 500 MiB unpacked, LUKS root cannot be unlocked; 0 error(s), 0 warning(s))`,
    );
    await unlink(join(root, "usr/bin/ostree"));
    expect(formatSummary("img", await lint())).toBe(
      "img: NOT installable (1 error(s), 0 warning(s))",
    );
  });
});

describe("lintImage on a folder", () => {
  it("lints the tree with its measured size and no labels", async () => {
    await chmod(join(root, "usr/bin/ostree"), 0o755);
    const result = await lintImage(root, {
      maxSizeBytes: 1024 * 1024,
      tlsVerify: true,
      reporter: silentReporter,
    });
    expect(result.subject).toBe(root);
    expect(result.report.ok).toBe(true);
    expect(result.report.size).toBe(await treeSize(root));
    const tooSmall = await lintImage(`dir:${root}`, {
      maxSizeBytes: 10,
      tlsVerify: true,
      reporter: silentReporter,
    });
    expect(tooSmall.report.findings.map((f) => f.rule)).toEqual(["size"]);
  });
});

describe("helpers", () => {
  it("chooses the backend from the label first, then from bootc", () => {
    expect(chooseBackend(false, undefined)).toBe("ostree");
    expect(chooseBackend(true, undefined)).toBe("bootc");
    expect(chooseBackend(true, { "dev.atomiso.backend": "ostree" })).toBe("ostree");
    expect(chooseBackend(false, { "dev.atomiso.backend": "bootc" })).toBe("bootc");
  });

  it("reads the kernel release from a bzImage header", () => {
    expect(kernelReleaseFromBuffer(fakeBzImage("6.12.48+deb13-amd64"))).toBe("6.12.48+deb13-amd64");
    expect(kernelReleaseFromBuffer(Buffer.alloc(8192))).toBeUndefined();
    expect(kernelReleaseFromBuffer(Buffer.from("short"))).toBeUndefined();
  });

  it("reads composefs.enabled from prepare-root.conf", () => {
    expect(composefsSetting("[sysroot]\nreadonly=true\n[composefs]\n# x\nenabled = signed\n")).toBe(
      "signed",
    );
    expect(composefsSetting("[sysroot]\nenabled = yes\n")).toBeUndefined();
  });

  it("counts hard-linked files once", async () => {
    const dir = join(work, "sizes");
    await put(dir, "a", "12345");
    await put(dir, "sub/b", "123");
    const { link: hardlink } = await import("node:fs/promises");
    await hardlink(join(dir, "a"), join(dir, "sub/a2"));
    expect(await treeSize(dir)).toBe(8);
  });
});

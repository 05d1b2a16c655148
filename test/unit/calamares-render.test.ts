import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";
import { calamaresOptionsFor } from "../../src/config/calamares-options.js";
import { loadConfig } from "../../src/config/load.js";
import type { SettingsConf } from "../../src/render/calamares/model.js";
import {
  DISKS_FILE,
  ERASE_CONFIRM,
  NOCONFIG_MODULES,
  renderCalamares,
} from "../../src/render/calamares/render.js";
import { validateCalamares } from "../../src/render/calamares/validate.js";

const example = join(import.meta.dirname, "../../examples/particleos/atomiso.toml");
const loaded = await loadConfig(example);
const options = calamaresOptionsFor(loaded.config, loaded.dir);

describe("calamares rendering", async () => {
  const files = await renderCalamares(options);
  const byPath = new Map(files.map((f) => [f.path, f]));
  const yaml = (path: string) => load(String(byPath.get(path)?.content)) as Record<string, unknown>;

  it("writes a .conf for every configurable module and instance in the sequence", () => {
    const settings = yaml("etc/calamares/settings.conf") as unknown as SettingsConf;
    const instances = new Map(settings.instances.map((i) => [`${i.module}@${i.id}`, i.config]));
    const steps = settings.sequence.flatMap((s) => ("show" in s ? s.show : s.exec));
    expect(steps).toContain("welcome");
    for (const step of steps) {
      if (NOCONFIG_MODULES.has(step)) continue;
      const conf = instances.get(step) ?? `${step}.conf`;
      expect(byPath.has(`etc/calamares/modules/${conf}`), `${step} -> ${conf}`).toBe(true);
    }
  });

  it("sets every top-level switch of settings.conf explicitly", () => {
    const settings = yaml("etc/calamares/settings.conf");
    for (const key of [
      "prompt-install",
      "dont-chroot",
      "oem-setup",
      "disable-cancel",
      "disable-cancel-during-exec",
      "hide-back-and-next-during-exec",
      "quit-at-end",
    ]) {
      expect(typeof settings[key], key).toBe("boolean");
    }
    expect(settings.branding).toBe("particleos");
  });

  it("brands the installer with the product", () => {
    const desc = yaml("etc/calamares/branding/particleos/branding.desc") as {
      componentName: string;
      strings: Record<string, string>;
      images: Record<string, string>;
    };
    expect(desc.componentName).toBe("particleos");
    expect(desc.strings.productName).toBe("ParticleOS");
    expect(desc.strings.versionedName).toBe("ParticleOS 0.1.0");
    for (const image of Object.values(desc.images)) {
      const png = byPath.get(`etc/calamares/branding/particleos/${image}`)?.content as Buffer;
      expect(png.subarray(1, 4).toString()).toBe("PNG");
    }
    const show = String(byPath.get("etc/calamares/branding/particleos/show.qml")?.content);
    expect(show).toContain("ParticleOS updates atomically");
    expect(show).toContain('source: "slide-1.png"');
    expect(byPath.has("etc/calamares/branding/particleos/slide-2.png")).toBe(true);
  });

  it("does not require the internet on the welcome page when the image is on the medium", () => {
    const welcome = yaml("etc/calamares/modules/welcome.conf") as {
      requirements: { check: string[]; required: string[] };
    };
    expect(welcome.requirements.check).not.toContain("internet");
    expect(welcome.requirements.required.every((r) => welcome.requirements.check.includes(r))).toBe(
      true,
    );
  });

  it("requires the image's registry on the welcome page for an online install", async () => {
    const image = loaded.config.image;
    if (!image) throw new Error("the example has an [image]");
    const online = calamaresOptionsFor(
      { ...loaded.config, image: { ...image, payload: "online", tls_verify: true } },
      loaded.dir,
    );
    const rendered = await renderCalamares(online);
    const welcome = load(
      String(rendered.find((f) => f.path === "etc/calamares/modules/welcome.conf")?.content),
    ) as { requirements: { check: string[]; required: string[]; internetCheckUrl: string } };
    expect(welcome.requirements.check).toContain("internet");
    expect(welcome.requirements.required).toContain("internet");
    expect(welcome.requirements.internetCheckUrl).toBe("https://127.0.0.1:5000/v2/");
  });

  it("matches the snapshot of every text file", () => {
    const text = Object.fromEntries(
      files.filter((f) => typeof f.content === "string").map((f) => [f.path, f.content]),
    );
    expect(text).toMatchSnapshot();
  });

  it("lays out GPT with a BIOS boot partition, /boot and a root of the user's file system", () => {
    const partition = yaml("etc/calamares/modules/partition.conf") as {
      partitionLayout: {
        name: string;
        filesystem: string;
        mountPoint?: string;
        type?: string;
        size: string;
      }[];
      efi: { mountPoint: string; recommendedSize: string };
      initialPartitioningChoice: string;
      defaultPartitionTableType: string;
    };
    expect(partition.initialPartitioningChoice).toBe("none");
    expect(partition.defaultPartitionTableType).toBe("gpt");
    expect(partition.efi).toMatchObject({ mountPoint: "/boot/efi", recommendedSize: "512MiB" });
    expect(
      partition.partitionLayout.map((p) => [p.name, p.filesystem, p.mountPoint, p.size]),
    ).toEqual([
      ["bios-boot", "unformatted", undefined, "1MiB"],
      ["boot", "ext4", "/boot", "1024MiB"],
      ["root", "unknown", "/", "100%"],
    ]);
    expect(partition.partitionLayout[0]?.type).toBe("21686148-6449-6e6f-744e-656564454649");
  });

  it("asks once more before Erase, on a page right after the partition page", async () => {
    const settings = yaml("etc/calamares/settings.conf") as unknown as SettingsConf;
    const show = settings.sequence.flatMap((s) => ("show" in s ? s.show : []));
    expect(show[show.indexOf("partition") + 1]).toBe(ERASE_CONFIRM);
    const instance = settings.instances.find((i) => `${i.module}@${i.id}` === ERASE_CONFIRM);
    expect(instance?.config).toBe("notesqml-eraseconfirm.conf");
    // notesqml finds the page as <branding folder>/<qmlFilename>.qml (qmlSearch "branding").
    const conf = yaml(`etc/calamares/modules/${instance?.config}`);
    expect(conf).toEqual({
      qmlSearch: "branding",
      qmlFilename: "erase-confirm",
      qmlLabel: { notes: "Confirm" },
    });
    const branding = "etc/calamares/branding/particleos";
    const qml = String(byPath.get(`${branding}/erase-confirm.qml`)?.content);
    const imported = /^import "([^"]+)" as Check$/m.exec(qml)?.[1];
    expect(byPath.has(`${branding}/${imported}`), `${imported} beside the page`).toBe(true);
    expect(qml).toContain(`request.open("GET", "file://${DISKS_FILE}")`);
    expect(qml).toContain("installs ParticleOS");
    // The live session writes that file before it starts Calamares and lets QML read it.
    const session = await readFile(
      join(import.meta.dirname, "../../installer-scripts/live/installer-session"),
      "utf8",
    );
    expect(session).toContain(`/usr/libexec/atomiso/disk-list >${DISKS_FILE}.new`);
    expect(session).toContain(`mv -f ${DISKS_FILE}.new ${DISKS_FILE}`);
    expect(session).toMatch(/^export QML_XHR_ALLOW_FILE_READ=1$/m);
    expect(session).toMatch(/--preserve-env=\S*\bQML_XHR_ALLOW_FILE_READ\b/);
  });

  it("offers every path and pre-selects none, so Next never erases a disk by itself", () => {
    const partition = yaml("etc/calamares/modules/partition.conf");
    const welcome = yaml("etc/calamares/modules/welcome.conf") as {
      requirements: { requiredStorage: number };
    };
    // Calamares offers Alongside and Replace only with a required size (the welcome page's).
    expect(welcome.requirements.requiredStorage).toBeGreaterThan(0);
    expect(partition).toMatchObject({
      initialPartitioningChoice: "none",
      allowManualPartitioning: true,
      // A reused Windows ESP (100 MiB) passes the manual page's check.
      efi: { minimumSize: "100MiB" },
    });
    expect(partition).not.toHaveProperty("requiredPartitionTableType");
  });

  it("mounts the btrfs subvolume layout (@, @home at /var/home, @snapshots) when btrfs is offered", () => {
    const mount = yaml("etc/calamares/modules/mount.conf");
    expect(mount.btrfsSubvolumes).toEqual([
      { mountPoint: "/", subvolume: "/@" },
      { mountPoint: "/var/home", subvolume: "/@home" },
      { mountPoint: "/.snapshots", subvolume: "/@snapshots" },
    ]);
  });

  it("uses a btrfs root whole when btrfs is not offered", async () => {
    const o = structuredClone(options);
    o.installer.partition.filesystems = ["ext4", "xfs"];
    const other = await renderCalamares(o);
    const conf = other.find((f) => f.path === "etc/calamares/modules/mount.conf");
    expect((load(String(conf?.content)) as Record<string, unknown>).btrfsSubvolumes).toEqual([
      { mountPoint: "/", subvolume: "" },
    ]);
  });

  it("asks for enough disk for the layout and two deployments", () => {
    const welcome = yaml("etc/calamares/modules/welcome.conf") as {
      requirements: { requiredStorage: number };
    };
    expect(welcome.requirements.requiredStorage).toBe(10);
  });
});

describe("calamares validation", () => {
  const variant = (change: (o: typeof options) => void) => {
    const o = structuredClone(options);
    change(o);
    return validateCalamares(o).map((p) => `${p.path}: ${p.message}`);
  };

  it("accepts the example", () => {
    expect(validateCalamares(options)).toEqual([]);
  });

  it("refuses a layout that cannot hold the image", () => {
    expect(
      variant((o) => {
        o.installer.requirements.image_gib = 6;
      }),
    ).toEqual([
      "installer.partition.root_min_gib: a 8 GiB root cannot hold the 6 GiB image twice (an upgrade keeps two deployments)",
    ]);
  });

  it("refuses a sequence without partition or users, and misplaced pages", () => {
    expect(
      variant((o) => {
        o.installer.pages = ["summary", "welcome"];
      }),
    ).toEqual([
      'installer.pages: "partition" is missing',
      'installer.pages: "users" is missing',
      'installer.pages: "welcome" must come first (it runs the requirement checks)',
      'installer.pages: "summary" must come last (it lists what the install will do)',
    ]);
  });

  it("refuses an EFI partition below the minimum and a default file system that is not offered", () => {
    expect(
      variant((o) => {
        o.installer.partition.efi_mib = 64;
        o.installer.partition.filesystem = "btrfs";
        o.installer.partition.filesystems = ["ext4"];
      }),
    ).toEqual([
      'installer.partition.filesystem: "btrfs" is not among installer.partition.filesystems (ext4)',
      "installer.partition.efi_mib: the EFI partition (64 MiB) is smaller than the minimum 100 MiB",
    ]);
  });
});

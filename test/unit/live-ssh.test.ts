// The live system's SSH server ([live] ssh_keys): key syntax, rendering, and that nothing of it
// exists without keys. The keys are real ones made with ssh-keygen (ed25519, ecdsa, rsa).
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { parseSshPublicKey } from "../../src/config/ssh-keys.js";
import { renderLiveFiles } from "../../src/render/live-files.js";
import {
  AUTHORIZED_KEYS_PATH,
  renderAuthorizedKeys,
  renderSshdConfig,
} from "../../src/render/live-ssh.js";
import { livePackages } from "../../src/stages/bootstrap.js";

const ED25519 =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILi1EVGkqd2BhEhdRIj+KU2Wc5KsGrpdSQPppuBLfdYi dev@example";
const ECDSA =
  "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBBHxafzxg3UFoBKNwgj9foAnvqNZX7Z1+S8Diw4rOyfFw6WpA65AYNmVlsZDNz6Vs4TgdAfeCLeX+l2UcV8cJqM= ";
const RSA =
  "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDJnxIvAaJefTZ1+u4IdaGW5mOp2zlEA6M2dCtGw6xsjZRwgms2PV7suv8HrdQEjQDWZsMGVdS6+ycgGWlab1cyc2MPHGtC99K3TcG5Dj/YbcBXfd9r9OorZWmO9hyTTwcIUgll17ezgD38PijoRk7kP+fZsI3qB9TSf8Te8kMB9sufjWDrmvwzyD3xHhsarOnanKRRKUYFi7/GtNHeB9qHXOMFwebypJL3QPwzqSKFGUNDYB9y/XiyVOCO7r7cCyLEESK93cvKHcYGR6jveprF/WGBVL0LGj4W++4R31tkqtWSsDUeDH42fHHTn1EFi86QrcwmoFU6fIdolSSCV8xF ci key";

const profile = (keys: string) =>
  `[product]\nname = "P"\nid = "p"\nversion = "1"\n[iso]\nvolume_id = "P"\n[live]\nssh_keys = ${keys}\n`;

describe("[live] ssh_keys", () => {
  it("accepts the lines ssh-keygen writes", () => {
    for (const key of [ED25519, ECDSA, RSA]) expect(typeof parseSshPublicKey(key)).toBe("object");
    expect(parseSshPublicKey(ED25519)).toMatchObject({
      type: "ssh-ed25519",
      comment: "dev@example",
    });
    expect(
      parseConfig(profile(JSON.stringify([ED25519, RSA])), "atomiso.toml").live.ssh_keys,
    ).toEqual([ED25519, RSA]);
  });

  it("refuses options, extra lines, a type the key data contradicts and broken base64", () => {
    const [, data] = ED25519.split(" ");
    const bad = [
      `command="/bin/sh" ${ED25519}`,
      `from="10.0.0.1" ${ED25519}`,
      `${ED25519}\n${RSA}`,
      `${ED25519}\r`,
      `ssh-rsa ${data} mislabelled`,
      `ssh-dss ${data}`,
      `ssh-ed25519 ${data?.slice(0, -3)}`,
      `ssh-ed25519  ${data}`,
      `ssh-ed25519 ${data} comment\u0007bell`,
      "",
    ];
    for (const key of bad)
      expect(typeof parseSshPublicKey(key), JSON.stringify(key)).toBe("string");
    expect(() =>
      parseConfig(profile(JSON.stringify([`command="x" ${ED25519}`])), "atomiso.toml"),
    ).toThrow(/live\.ssh_keys\.0|live\.ssh_keys\[0\]/);
  });

  it("renders authorized_keys from the parsed parts, one key a line", () => {
    expect(renderAuthorizedKeys([ED25519, ECDSA])).toBe(`${ED25519}\n${ECDSA.trimEnd()}\n`);
    expect(() => renderAuthorizedKeys([`${ED25519}\nssh-ed25519 AAAA x`])).toThrow(/ssh_keys\[0\]/);
  });

  it("lets only the live user in, by key, from our file only", () => {
    const config = renderSshdConfig("live");
    expect(config.split("\n")).toEqual(
      expect.arrayContaining([
        "AllowUsers live",
        "PermitRootLogin no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        `AuthorizedKeysFile ${AUTHORIZED_KEYS_PATH}`,
        "HostKey /etc/ssh/ssh_host_ed25519_key",
      ]),
    );
    expect(() => renderSshdConfig("live\nPermitRootLogin yes")).toThrow(/not a plain user name/);
    expect(() => renderSshdConfig("live", AUTHORIZED_KEYS_PATH, "/k\nPermitRootLogin yes")).toThrow(
      /host key path .* is not plain/,
    );
  });

  it("adds the server to the live root only when keys are set", () => {
    const base = {
      productName: "P",
      productId: "p",
      productVersion: "1",
      suite: "trixie",
      user: "live",
    };
    const ssh = (files: { path: string }[]) =>
      files.filter((f) => /ssh/.test(f.path)).map((f) => f.path);
    expect(ssh(renderLiveFiles(base))).toEqual([]);
    expect(ssh(renderLiveFiles({ ...base, sshKeys: [ED25519] }))).toEqual([
      "etc/ssh/sshd_config.d/10-atomiso-live.conf",
      "etc/ssh/atomiso-live-authorized-keys",
      "usr/lib/systemd/system/atomiso-ssh-host-keys.service",
      "etc/systemd/system/ssh.service.wants/atomiso-ssh-host-keys.service",
    ]);
    const unit = renderLiveFiles({ ...base, sshKeys: [ED25519] }).find((f) =>
      f.path.endsWith("atomiso-ssh-host-keys.service"),
    );
    // Host keys at boot, before sshd; "$$" is a literal $ for systemd's own expansion.
    expect(String(unit?.content)).toContain(
      'ExecStart=/usr/bin/ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key\n',
    );
    expect(String(unit?.content)).toContain("ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key\n");
    expect(String(unit?.content)).toContain('ssh-keygen -l -f "$$k"');
    expect(String(unit?.content)).toContain("Before=ssh.service\n");
    const needs = { backend: "ostree", payload: "embedded" } as const;
    expect(livePackages(needs, [])).not.toContain("openssh-server");
    expect(livePackages(needs, [], { sshServer: true })).toContain("openssh-server");
  });
});

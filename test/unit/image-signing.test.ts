// [image.signing]: the schema's checks, the containers policy and registries.d rendered through
// JSON.stringify and js-yaml (read back by their parsers), the lookaside layout, the live files
// and atomiso.lock's record of what signed the image.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { load } from "js-yaml";
import { parse } from "smol-toml";
import { describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { parseLock, stringifyLock } from "../../src/image/lock.js";
import {
  lookasidePath,
  PUBLIC_KEY_PATH,
  renderPolicy,
  renderRegistriesD,
  renderSigningFiles,
} from "../../src/image/signing.js";
import { renderLiveFiles } from "../../src/render/live-files.js";
import { D1, LOCK } from "../support/lock-fixture.js";
import { EXAMPLE_LIVE } from "./helpers/live-files.js";

const FPR = "0123456789ABCDEF0123456789ABCDEF01234567";
const REF = "127.0.0.1:5000/particleos/system:0.1.0";
const example = join(import.meta.dirname, "../../examples/particleos/atomiso.toml");

async function withSigning(signing: Record<string, unknown>, image: Record<string, unknown> = {}) {
  const raw = parse(await readFile(example, "utf8")) as Record<string, Record<string, unknown>>;
  raw.image = { ...raw.image, ...image, signing };
  return configSchema.safeParse(raw);
}

describe("[image.signing] schema", () => {
  it("accepts a fingerprint, a key file and a lookaside URL; the fingerprint upper-cased", async () => {
    const r = await withSigning({
      gpg_key: FPR.toLowerCase(),
      public_key: "signing-key.asc",
      lookaside: "https://releases.example.org/sigstore",
    });
    expect(r.success).toBe(true);
    expect(r.data?.image?.signing?.gpg_key).toBe(FPR);
  });

  it("refuses a short key id, naming the key", async () => {
    const r = await withSigning({ gpg_key: "01234567", public_key: "k.asc" });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(["image", "signing", "gpg_key"]);
    expect(r.error?.issues[0]?.message).toMatch(/full fingerprint, 40 hex digits/);
  });

  it("refuses a lookaside URL with a password or another scheme", async () => {
    for (const lookaside of ["https://u:p@example.org/s", "file:///srv/sigstore"]) {
      const r = await withSigning({ gpg_key: FPR, public_key: "k.asc", lookaside });
      expect(r.success, lookaside).toBe(false);
      expect(r.error?.issues[0]?.path).toEqual(["image", "signing", "lookaside"]);
    }
  });

  it("needs a lookaside URL for online installs", async () => {
    const r = await withSigning({ gpg_key: FPR, public_key: "k.asc" }, { payload: "online" });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(["image", "signing", "lookaside"]);
    expect(r.error?.issues[0]?.message).toMatch(/payload = "online"/);
  });

  it("is optional: the example profile signs nothing", async () => {
    const raw = parse(await readFile(example, "utf8"));
    expect(configSchema.parse(raw).image?.signing).toBeUndefined();
  });
});

describe("containers policy", () => {
  it("requires the key's signature for the image's repository only", () => {
    const policy = JSON.parse(renderPolicy({ reference: REF }));
    expect(policy.default).toEqual([{ type: "insecureAcceptAnything" }]);
    expect(Object.keys(policy.transports.docker)).toEqual(["127.0.0.1:5000/particleos/system"]);
    expect(policy.transports.docker["127.0.0.1:5000/particleos/system"]).toEqual([
      {
        type: "signedBy",
        keyType: "GPGKeys",
        keyPath: `/${PUBLIC_KEY_PATH}`,
        signedIdentity: { type: "matchRepository" },
      },
    ]);
  });

  it("maps image.track's name onto the signed one when it differs", () => {
    const policy = JSON.parse(
      renderPolicy({ reference: REF, track: "10.0.2.100:5000/particleos/system:stable" }),
    );
    expect(policy.transports.docker["10.0.2.100:5000/particleos/system"][0].signedIdentity).toEqual(
      {
        type: "remapIdentity",
        prefix: "10.0.2.100:5000/particleos/system",
        signedPrefix: "127.0.0.1:5000/particleos/system",
      },
    );
    const same = JSON.parse(
      renderPolicy({ reference: REF, track: `${REF.split(":0")[0]}:stable` }),
    );
    expect(Object.keys(same.transports.docker)).toHaveLength(1);
  });

  it("normalises Docker Hub names as containers/image does", () => {
    const policy = JSON.parse(renderPolicy({ reference: "particleos/system:1" }));
    expect(Object.keys(policy.transports.docker)).toEqual(["docker.io/particleos/system"]);
  });

  it("points registries.d at the lookaside base for both names, through YAML", () => {
    const text = renderRegistriesD({
      reference: REF,
      track: "10.0.2.100:5000/particleos/system:stable",
      lookaside: "https://example.org/sig:s/",
    });
    expect(load(text ?? "")).toEqual({
      docker: {
        "127.0.0.1:5000/particleos/system": { lookaside: "https://example.org/sig:s" },
        "10.0.2.100:5000/particleos/system": { lookaside: "https://example.org/sig:s" },
      },
    });
    expect(renderRegistriesD({ reference: REF })).toBeUndefined();
  });

  it("places signatures where containers/image looks them up", () => {
    expect(lookasidePath(REF, D1, 2)).toBe(
      `particleos/system@sha256=${"a".repeat(64)}/signature-2`,
    );
  });
});

describe("signing files", () => {
  const key = Buffer.from("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxx\n");

  it("carries the key, signing.json and the policy; the lookaside files only with a URL", () => {
    const files = renderSigningFiles({
      fingerprint: FPR.toLowerCase(),
      publicKey: key,
      reference: REF,
    });
    expect(files.map((f) => f.path)).toEqual([
      PUBLIC_KEY_PATH,
      "etc/atomiso/signing/signing.json",
      "etc/containers/policy.json",
    ]);
    expect(files[0]?.content).toBe(key);
    expect(JSON.parse(String(files[1]?.content))).toEqual({
      type: "simple-signing",
      fingerprint: FPR,
      identity: "127.0.0.1:5000/particleos/system",
    });
    const online = renderSigningFiles({
      fingerprint: FPR,
      publicKey: key,
      reference: REF,
      lookaside: "http://10.0.2.100:8000/",
    });
    expect(online.find((f) => f.path === "etc/atomiso/signing/lookaside")?.content).toBe(
      "http://10.0.2.100:8000\n",
    );
    expect(online.map((f) => f.path)).toContain("etc/containers/registries.d/atomiso.yaml");
  });

  it("reach the live root only when the profile signs", () => {
    const base = EXAMPLE_LIVE;
    const paths = (o: Parameters<typeof renderLiveFiles>[0]) =>
      renderLiveFiles(o).map((f) => f.path);
    expect(paths(base)).not.toContain("etc/containers/policy.json");
    const signed = renderLiveFiles({
      ...base,
      signing: { fingerprint: FPR, publicKey: example, reference: REF },
    });
    expect(signed.map((f) => f.path)).toContain("etc/containers/policy.json");
    expect(String(signed.find((f) => f.path === PUBLIC_KEY_PATH)?.content)).toMatch(/^# /);
  });
});

describe("atomiso.lock signature record", () => {
  const signature = {
    type: "simple-signing" as const,
    key: FPR,
    file: `signatures/particleos/system@sha256=${"a".repeat(64)}/signature-1`,
    sha256: "c".repeat(64),
  };

  it("round-trips", () => {
    const lock = { ...LOCK, signature };
    expect(parseLock(stringifyLock(lock), "x.lock")).toEqual(lock);
  });

  it("refuses a signature file of another digest or outside signatures/", () => {
    const other = { ...signature, file: signature.file.replace("=aaaa", "=bbbb") };
    expect(() => parseLock(stringifyLock({ ...LOCK, signature: other }), "x.lock")).toThrow(
      /is not a signature of sha256:a{64}/,
    );
    const outside = { ...signature, file: "../../etc/passwd" };
    expect(() => parseLock(stringifyLock({ ...LOCK, signature: outside }), "x.lock")).toThrow(
      /image\.signature\.file: must be a signature file in the signatures\/ folder/,
    );
  });
});

// The SBOM: an SPDX 2.3 JSON document describing the ISO, which contains the live root and (when
// embedded) the system image, each containing its Debian packages with version, architecture
// (in the purl), source package and the licence Debian records (NOASSERTION when it does not).
// Deterministic: sorted packages, index-based ids, the creation time from SOURCE_DATE_EPOCH.
import type { RootPackage } from "./packages.js";

export interface SbomInput {
  isoName: string;
  isoSha256: string;
  productVersion: string;
  atomisoVersion: string;
  /** Seconds; the document's creation time (the build's SOURCE_DATE_EPOCH, else now). */
  created: number;
  /** Debian suite of the live root, for the purl's distro qualifier. */
  suite: string;
  live: RootPackage[];
  image?: { reference: string; digest: string; packages: RootPackage[] };
}

const NOASSERTION = "NOASSERTION";

function purl(p: RootPackage, suite: string): string {
  const q = new URLSearchParams({ arch: p.architecture, distro: `debian-${suite}` });
  if (p.sourceName !== p.name || p.sourceVersion !== p.version)
    q.set("upstream", `${p.sourceName}@${p.sourceVersion}`);
  return `pkg:deb/debian/${encodeURIComponent(p.name)}@${encodeURIComponent(p.version)}?${q}`;
}

function debPackage(id: string, p: RootPackage, suite: string) {
  return {
    SPDXID: id,
    name: p.name,
    versionInfo: p.version,
    supplier: NOASSERTION,
    downloadLocation: NOASSERTION,
    filesAnalyzed: false,
    licenseConcluded: NOASSERTION,
    licenseDeclared: p.licence ?? NOASSERTION,
    copyrightText: NOASSERTION,
    sourceInfo: `built from the Debian source package ${p.sourceName} ${p.sourceVersion}`,
    comment: `architecture ${p.architecture}`,
    externalRefs: [
      {
        referenceCategory: "PACKAGE-MANAGER",
        referenceType: "purl",
        referenceLocator: purl(p, suite),
      },
    ],
  };
}

export function renderSbom(i: SbomInput): object {
  const packages: object[] = [
    {
      SPDXID: "SPDXRef-ISO",
      name: i.isoName,
      versionInfo: i.productVersion,
      downloadLocation: NOASSERTION,
      filesAnalyzed: false,
      checksums: [{ algorithm: "SHA256", checksumValue: i.isoSha256 }],
      licenseConcluded: NOASSERTION,
      licenseDeclared: NOASSERTION,
      copyrightText: NOASSERTION,
      primaryPackagePurpose: "OPERATING-SYSTEM",
    },
    {
      SPDXID: "SPDXRef-LiveRoot",
      name: "live root",
      downloadLocation: NOASSERTION,
      filesAnalyzed: false,
      licenseConcluded: NOASSERTION,
      licenseDeclared: NOASSERTION,
      copyrightText: NOASSERTION,
      comment: "the live system the installer runs in (live/*.squashfs on the ISO)",
      primaryPackagePurpose: "OPERATING-SYSTEM",
    },
  ];
  const relationships: object[] = [
    {
      spdxElementId: "SPDXRef-DOCUMENT",
      relationshipType: "DESCRIBES",
      relatedSpdxElement: "SPDXRef-ISO",
    },
    {
      spdxElementId: "SPDXRef-ISO",
      relationshipType: "CONTAINS",
      relatedSpdxElement: "SPDXRef-LiveRoot",
    },
  ];
  const add = (prefix: string, parent: string, list: RootPackage[]) => {
    list.forEach((p, n) => {
      const id = `SPDXRef-${prefix}-${n + 1}`;
      packages.push(debPackage(id, p, i.suite));
      relationships.push({
        spdxElementId: parent,
        relationshipType: "CONTAINS",
        relatedSpdxElement: id,
      });
    });
  };
  add("live", "SPDXRef-LiveRoot", i.live);
  if (i.image) {
    packages.push({
      SPDXID: "SPDXRef-Image",
      name: i.image.reference,
      versionInfo: i.image.digest,
      downloadLocation: NOASSERTION,
      filesAnalyzed: false,
      checksums: [{ algorithm: "SHA256", checksumValue: i.image.digest.replace(/^sha256:/, "") }],
      licenseConcluded: NOASSERTION,
      licenseDeclared: NOASSERTION,
      copyrightText: NOASSERTION,
      comment:
        "the system image the installer deploys (atomiso/payload on the ISO); the checksum is its manifest digest",
      primaryPackagePurpose: "CONTAINER",
    });
    relationships.push({
      spdxElementId: "SPDXRef-ISO",
      relationshipType: "CONTAINS",
      relatedSpdxElement: "SPDXRef-Image",
    });
    add("image", "SPDXRef-Image", i.image.packages);
  }
  return {
    spdxVersion: "SPDX-2.3",
    dataLicense: "CC0-1.0",
    SPDXID: "SPDXRef-DOCUMENT",
    name: i.isoName,
    // Unique per ISO content, and the same for byte-identical rebuilds.
    documentNamespace: `https://spdx.atomiso.invalid/${encodeURIComponent(i.isoName)}-${i.isoSha256}`,
    creationInfo: {
      created: new Date(i.created * 1000).toISOString().replace(/\.\d{3}Z$/, "Z"),
      creators: [`Tool: atomiso-${i.atomisoVersion}`],
    },
    documentDescribes: ["SPDXRef-ISO"],
    packages,
    relationships,
  };
}

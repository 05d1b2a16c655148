// Licences from Debian's machine-readable copyright files (DEP-5, /usr/share/doc/<pkg>/copyright)
// as an SPDX licence expression. Debian's short names mostly differ from SPDX ids: the common
// ones are mapped, any other name becomes a LicenseRef-Debian-<name> (valid SPDX, still
// telling). A file that is not DEP-5 gives undefined: the SBOM then says NOASSERTION.

const SPDX_FOR: Record<string, string> = {
  "gpl-1": "GPL-1.0-only",
  "gpl-1+": "GPL-1.0-or-later",
  "gpl-2": "GPL-2.0-only",
  "gpl-2+": "GPL-2.0-or-later",
  "gpl-3": "GPL-3.0-only",
  "gpl-3+": "GPL-3.0-or-later",
  "lgpl-2": "LGPL-2.0-only",
  "lgpl-2+": "LGPL-2.0-or-later",
  "lgpl-2.1": "LGPL-2.1-only",
  "lgpl-2.1+": "LGPL-2.1-or-later",
  "lgpl-3": "LGPL-3.0-only",
  "lgpl-3+": "LGPL-3.0-or-later",
  "agpl-3": "AGPL-3.0-only",
  "agpl-3+": "AGPL-3.0-or-later",
  "gfdl-1.2+": "GFDL-1.2-or-later",
  "gfdl-1.3+": "GFDL-1.3-or-later",
  "apache-2.0": "Apache-2.0",
  "apache-2": "Apache-2.0",
  expat: "MIT",
  mit: "MIT",
  "bsd-2-clause": "BSD-2-Clause",
  "bsd-3-clause": "BSD-3-Clause",
  "bsd-4-clause": "BSD-4-Clause",
  isc: "ISC",
  zlib: "Zlib",
  "mpl-1.1": "MPL-1.1",
  "mpl-2.0": "MPL-2.0",
  "artistic-2.0": "Artistic-2.0",
  "cc0-1.0": "CC0-1.0",
  "cc-by-sa-3.0": "CC-BY-SA-3.0",
  "cc-by-sa-4.0": "CC-BY-SA-4.0",
  "cc-by-4.0": "CC-BY-4.0",
  "public-domain": "LicenseRef-Debian-public-domain",
  "ofl-1.1": "OFL-1.1",
  openssl: "OpenSSL",
  "psf-2": "PSF-2.0",
  "python-2.0": "Python-2.0",
  "bsl-1.0": "BSL-1.0",
  "unicode-dfs-2016": "Unicode-DFS-2016",
  wtfpl: "WTFPL",
  curl: "curl",
  x11: "X11",
  "epl-1.0": "EPL-1.0",
  "epl-2.0": "EPL-2.0",
};

function spdxId(debianName: string): string {
  const known = SPDX_FOR[debianName.toLowerCase()];
  if (known) return known;
  // SPDX LicenseRef ids allow letters, digits, "." and "-".
  const id = debianName
    .replace(/\+/g, "-or-later-")
    .replace(/[^A-Za-z0-9.-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^-+|-+$/g, "");
  return `LicenseRef-Debian-${id || "unnamed"}`;
}

/** One DEP-5 License: value ("GPL-2+ or Artistic", "LGPL-2.1+ with OpenSSL exception") → SPDX. */
export function licenceExpression(value: string): string | undefined {
  const words = value.trim().replace(/,/g, " ").split(/\s+/).filter(Boolean);
  if (words.length === 0) return undefined;
  const parts: string[] = [];
  let operator = "";
  let current: string[] = [];
  const flush = () => {
    if (current.length === 0) return;
    parts.push(spdxId(current.join("-")));
    current = [];
  };
  for (const w of words) {
    const lower = w.toLowerCase();
    if (lower === "or" || lower === "and") {
      flush();
      if (parts.length > 0) {
        operator = lower.toUpperCase();
        parts.push(operator);
      }
    } else {
      current.push(w);
    }
  }
  flush();
  if (parts[parts.length - 1] === "AND" || parts[parts.length - 1] === "OR") parts.pop();
  if (parts.length === 0) return undefined;
  return parts.length === 1 ? parts[0] : `(${parts.join(" ")})`;
}

/**
 * The licences a DEP-5 copyright file declares (the first line of every License: field), as
 * one SPDX expression joined with AND, or undefined when the file is not machine-readable.
 */
export function licenceOfCopyright(text: string): string | undefined {
  if (!/^Format:\s*\S*copyright-format/im.test(text)) return undefined;
  const found = new Set<string>();
  for (const m of text.matchAll(/^License:[ \t]*(.*)$/gim)) {
    const expr = licenceExpression(m[1] ?? "");
    if (!expr) continue;
    // "(A AND B)" joins the file's other licences with AND anyway: one list, no repeats.
    const parts =
      /^\(.*\)$/.test(expr) && !expr.includes(" OR ") ? expr.slice(1, -1).split(" AND ") : [expr];
    for (const p of parts) found.add(p);
  }
  if (found.size === 0) return undefined;
  const all = [...found].sort();
  return all.length === 1 ? all[0] : all.join(" AND ");
}

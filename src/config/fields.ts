// Constrained string types shared by the schema: what a generated file can carry safely. The
// renderers escape for their own language as well (src/render/escape/); these refuse early,
// with the key named, what no target could carry or what has no business in a profile.
import { z } from "zod";
import { parseReference } from "../oci/reference.js";
import { isKernelArg } from "./kernel-args.js";

/** C0/C1 controls (NUL, newline, ESC, ...), line/paragraph separators and bidi overrides. */
const UNPRINTABLE = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

export function unprintable(text: string): string | undefined {
  const m = UNPRINTABLE.exec(text);
  if (!m) return undefined;
  return `U+${m[0].codePointAt(0)?.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** A name or caption shown to people: printable, no blanks at either end. */
export function printable(max: number) {
  return z
    .string()
    .min(1)
    .max(max)
    .superRefine((text, ctx) => {
      const bad = unprintable(text);
      if (bad) ctx.addIssue(`contains the control character ${bad}; only printable text`);
      else if (text.trim() !== text) ctx.addIssue("starts or ends with a blank");
    });
}

/** A path in the profile (resolved and contained later, see config/files.ts). */
export function profilePath() {
  return z
    .string()
    .min(1)
    .max(4096)
    .superRefine((text, ctx) => {
      const bad = unprintable(text);
      if (bad) ctx.addIssue(`contains the control character ${bad}`);
    });
}

/** A version such as "0.1.0" or "2.0-rc1": goes into file names and image tags, so no /, .., blanks. */
export function versionToken() {
  return z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/, {
      error:
        'must be letters, digits and . _ - (at most 32, starting with a letter or digit; it is also the default image tag), e.g. "1.0"',
    })
    .refine((v) => !v.includes(".."), { error: 'must not contain ".."' });
}

/**
 * An http(s) URL that is written onto the medium or into a generated file: parsed as a URL, no
 * blanks or control characters (they would add words to an apt sources line), no user name or
 * password (they would be readable by anyone with the ISO).
 */
export function mediumUrl(options: { apt?: boolean } = {}) {
  return z
    .string()
    .max(2048)
    .superRefine((text, ctx) => {
      if (/[\s\p{Cc}]/u.test(text)) {
        ctx.addIssue("must not contain blanks or control characters (write %20 for a space)");
        return;
      }
      if (/["'<>\\^`{|}]/.test(text)) {
        ctx.addIssue("must not contain \" ' < > \\ ^ ` { | } (percent-encode them)");
        return;
      }
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        ctx.addIssue('is not a URL; expected e.g. "http://deb.debian.org/debian"');
        return;
      }
      if (url.protocol !== "http:" && url.protocol !== "https:")
        ctx.addIssue(`expected an http:// or https:// URL, found the scheme "${url.protocol}"`);
      else if (options.apt && text.includes("#"))
        ctx.addIssue("must not contain # (apt reads the rest of a sources line as a comment)");
      else if (url.username || url.password)
        ctx.addIssue(
          "must not contain a user name or password: it would be written onto the ISO in clear",
        );
    });
}

/** Kernel arguments, one per entry, by the grammar in kernel-args.ts. */
export function kernelArgs() {
  return z.array(
    z.string().refine(isKernelArg, {
      error:
        'one kernel argument per entry: name or name=value of letters, digits and _ . , : / @ + = % ~ - (no blanks, quotes, $ ; { } or other GRUB/shell characters), e.g. "console=ttyS0,115200"',
    }),
  );
}

/** An image name with a tag, e.g. "localhost/particleos/system:0.1.0". */
export function taggedReference() {
  return z.string().superRefine((text, ctx) => {
    try {
      const ref = parseReference(text, { defaultTag: false });
      if (ref.digest) ctx.addIssue("must not contain a digest");
      else if (!ref.tag) ctx.addIssue('needs a tag, e.g. "localhost/particleos/system:0.1.0"');
    } catch (err) {
      ctx.addIssue((err as Error).message);
    }
  });
}

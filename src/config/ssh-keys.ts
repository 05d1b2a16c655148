// [live] ssh_keys: OpenSSH public keys, one authorized_keys line each. Only the plain form is
// accepted ("<type> <base64> [comment]", what a .pub file holds): no options such as
// command= or from=, no second line, and the key data must name the same type as the line.
import { z } from "zod";

export const SSH_KEY_TYPES = [
  "ssh-ed25519",
  "sk-ssh-ed25519@openssh.com",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ecdsa-sha2-nistp256@openssh.com",
  "ssh-rsa",
] as const;

// ssh-keygen -C "" ends the line with a blank: accepted (the key is rendered from its parts).
const LINE =
  /^([A-Za-z0-9@.-]+) ([A-Za-z0-9+/]+={0,2})(?: ([\x21-\x7e](?:[\x20-\x7e]{0,198}[\x21-\x7e])?))? ?$/;

export interface SshPublicKey {
  type: (typeof SSH_KEY_TYPES)[number];
  data: string;
  comment?: string;
}

/** The key's parts, or why the text is not one plain OpenSSH public key line. */
export function parseSshPublicKey(text: string): SshPublicKey | string {
  const m = LINE.exec(text);
  if (!m)
    return 'must be one OpenSSH public key line, "<type> <base64 key> [comment]" as in a .pub file (printable ASCII, single spaces, no options such as command=)';
  const [, type = "", data = "", comment] = m;
  if (!(SSH_KEY_TYPES as readonly string[]).includes(type))
    return `key type "${type}" is not one of ${SSH_KEY_TYPES.join(", ")}`;
  const blob = Buffer.from(data, "base64");
  if (blob.toString("base64") !== data || blob.length < 8) return "the key data is not base64";
  // The blob starts with its own type as an SSH string (uint32 length, bytes).
  const length = blob.readUInt32BE(0);
  const inner = blob.subarray(4, 4 + length).toString("latin1");
  if (length > blob.length - 4 || inner !== type)
    return `the key data is not a ${type} key (it says ${JSON.stringify(inner.slice(0, 40))})`;
  return { type: type as SshPublicKey["type"], data, ...(comment ? { comment } : {}) };
}

/** The schema field: a list of keys, each checked by parseSshPublicKey. */
export function sshPublicKeys() {
  return z
    .array(
      z
        .string()
        .max(16384)
        .superRefine((text, ctx) => {
          const key = parseSshPublicKey(text);
          if (typeof key === "string") ctx.addIssue(key);
        }),
    )
    .max(64);
}

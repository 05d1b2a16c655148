// The error catalog: every failure a user can meet has a permanent code, a message that says
// what happened and why, and a hint that says what to do. No "Error:" prefixes.

export type ErrorCode =
  | "config-invalid"
  | "config-not-found"
  | "command-failed"
  | "tool-missing"
  | "not-root"
  | "interrupted"
  | "unsafe-delete"
  | "stage-failed"
  | "boot-failed"
  | "usage"
  | "oci-invalid-reference"
  | "oci-digest-mismatch"
  | "oci-layout-invalid"
  | "registry-error"
  | "image-unpinned"
  | "cache-locked";

export class AtomisoError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  /** Process exit status the CLI uses for this error. */
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, hint?: string, exitCode = 1) {
    super(message);
    this.name = "AtomisoError";
    this.code = code;
    this.hint = hint;
    this.exitCode = exitCode;
  }
}

export function formatError(err: unknown): string {
  if (err instanceof AtomisoError) {
    return err.hint ? `${err.message}\n  hint: ${err.hint}` : err.message;
  }
  if (err instanceof Error) return err.stack ?? err.message;
  return String(err);
}

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

export interface ErrorCodeDoc {
  /** What went wrong, in general terms (the message names the particulars). */
  meaning: string;
  /** What to do about it (the error's own hint is more specific). */
  action: string;
}

/**
 * Every code with what it means and what to do. docs/errors.md is generated from this
 * (`atomiso gen-docs`); a code added above without an entry here does not compile.
 */
export const ERROR_CODES: Record<ErrorCode, ErrorCodeDoc> = {
  "config-invalid": {
    meaning:
      "atomiso.toml (or a file it names) breaks a rule: a missing or mistyped key, a value out of range, a file that is not there, or settings that contradict each other. Every problem is listed with its key.",
    action:
      "Fix each listed key (docs/config.md describes them all) and run `atomiso validate` until it says ok. Nothing was written.",
  },
  "config-not-found": {
    meaning: "There is no profile at the path given with --config (default ./atomiso.toml).",
    action:
      "Run atomiso in the project folder, pass `--config path/to/atomiso.toml`, or write a new project with `atomiso init DIR`.",
  },
  "command-failed": {
    meaning:
      "A host tool atomiso ran (mmdebstrap, podman, xorriso, skopeo, …) exited with an error. The message shows the exact command and the end of its output.",
    action:
      "Read the tool's output in the build log (`<iso>.log` beside the ISO) or re-run with --verbose; the command line shown can be run by hand.",
  },
  "tool-missing": {
    meaning: "A host program or file atomiso needs is not installed.",
    action:
      "Run `atomiso doctor`: it lists every missing Debian package and the apt-get line that installs them. On a host that is not Debian, use the builder container (README, On other hosts).",
  },
  "not-root": {
    meaning:
      "The command needs root: building images and ISOs uses mmdebstrap, chroot, mounts and rootful podman.",
    action: "Run it with sudo (or as root in the builder container).",
  },
  interrupted: {
    meaning:
      "The build was stopped by Ctrl-C or a signal. Running tools were stopped, temp files removed and nothing is left mounted.",
    action: "Run the same command again: finished stages are reused from the cache.",
  },
  "unsafe-delete": {
    meaning:
      "atomiso refused to delete a folder because something is still mounted inside it (deleting it would reach into the mounted file system).",
    action:
      "Unmount what the message names (`umount -R PATH`), then run the command again. Please report how it happened: atomiso undoes its own mounts.",
  },
  "stage-failed": {
    meaning: "A build stage finished without producing what the next stages need.",
    action:
      "Read the message and the build log; `atomiso build --rebuild STAGE` rebuilds that stage from scratch.",
  },
  "boot-failed": {
    meaning:
      "A QEMU boot test did not reach the expected screen or serial output in time, or QEMU stopped.",
    action:
      "Look at the screenshots and qemu.log in the run directory the message names; the serial log shows how far the boot got.",
  },
  usage: {
    meaning:
      "The command line or an argument is not valid (unknown target, bad value, file in the way).",
    action: "Check `atomiso help COMMAND`; the message says which argument is wrong.",
  },
  "oci-invalid-reference": {
    meaning: "An image reference or digest is not well formed.",
    action:
      'Write references as registry/repository:tag (e.g. 127.0.0.1:5000/myos/system:1.0) and digests as "sha256:" and 64 hex characters.',
  },
  "oci-digest-mismatch": {
    meaning:
      "Content fetched from a registry or an OCI layout does not have the digest it was pinned to: it is corrupt or was replaced.",
    action:
      "Push and pin the image again (`atomiso push`); if it repeats, check the registry and any proxy in between.",
  },
  "oci-layout-invalid": {
    meaning:
      "An OCI image layout or manifest is malformed, or has no image for the wanted platform.",
    action: "Rebuild or re-copy the image; the message names the file and the field.",
  },
  "registry-error": {
    meaning:
      "A registry refused or failed a request (authentication, missing image, unreachable), or the local development registry could not be started.",
    action:
      "Check the reference and that the registry runs (`atomiso registry status` for the local one); log in with `podman login REGISTRY` when it needs credentials.",
  },
  "image-unpinned": {
    meaning:
      "The ISO would embed the system image, but atomiso.lock is missing or pins another reference than image.reference.",
    action:
      "Run `atomiso image build` and `atomiso push` (push pins the digest in atomiso.lock). `atomiso build --no-payload` makes an ISO that cannot install.",
  },
  "cache-locked": {
    meaning:
      "Another atomiso build (or `atomiso clean`) holds the stage cache: one build at a time may use a cache, so two builds cannot delete each other's outputs. The message names the process holding it.",
    action:
      "Wait for that build to finish (a second `atomiso build` waits by itself and says for whom), or give this one its own cache with --cache-dir.",
  },
};

/** Where a user reads about a code. */
export const ERRORS_DOC = "docs/errors.md";

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
    const hint = err.hint ? `\n  hint: ${err.hint}` : "";
    return `${err.message}${hint}\n  error code: ${err.code} (see ${ERRORS_DOC})`;
  }
  if (err instanceof Error) return err.stack ?? err.message;
  return String(err);
}

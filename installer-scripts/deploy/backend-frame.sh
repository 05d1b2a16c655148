# shellcheck shell=bash
# The frame the deploy backends (ostree-deploy, bootc-deploy) are written in: their common
# command line, the output protocol, the log, failure handling and the command runner, so a
# backend states only its own steps. A backend sources it from its own folder (both are
# installed together at /usr/lib/atomiso/deploy/ in the live system) right after
# `set -euo pipefail`, defines
#   usage          its --help text
#   own_flag OPT   takes one of its own value-less flags; returns 1 for anything else
#   backend_cleanup (optional) what to undo on exit, before the temp folder goes
# and calls `backend_start NAME "$@"`.
#
# Output for the caller (a Calamares job, the unattended installer, a test):
#   atomiso-progress <percent> <message>   progress, 0-100
#   atomiso: <message>                     what is happening, notes
#   atomiso-timing <phase> <seconds>       how long a phase took
#   atomiso-error: <message>               on stderr, the last line, when it fails (status 1)
# Everything else (every command and its output) goes to the log (--log); fd 3 and 4 are the
# caller's stdout and stderr.

set -E
export LC_ALL=C
# The folder of the deploy helpers (verify-payload, unpack-layer, …), installed beside this.
here=$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")

# ---- the command line both backends take ----
# Set here, read by the backend that sources this file.
# shellcheck disable=SC2034
layout="" pull="" tls_verify=true digest="" target_imgref="" root="" stateroot="" ref=""
# shellcheck disable=SC2034
firmware="" disk="" log_file=""
kargs=()

parse_args() {
  local opt
  while [ $# -gt 0 ]; do
    opt=$1
    case $opt in
    --*=*) set -- "${opt%%=*}" "${opt#*=}" "${@:2}" && continue ;;
    -h | --help) usage && exit 0 ;;
    --layout | --pull | --tls-verify | --digest | --target-imgref | --root | --stateroot | --ref | --karg | --firmware | --disk | --log)
      [ $# -ge 2 ] || { echo "atomiso-error: $opt needs a value (see --help)" >&2 && exit 1; } ;;
    *)
      own_flag "$opt" || { echo "atomiso-error: unknown argument $opt (see --help)" >&2 && exit 1; }
      shift && continue
      ;;
    esac
    case $opt in
    --layout) layout=$2 ;;
    --pull) pull=$2 ;;
    --tls-verify) tls_verify=$2 ;;
    --digest) digest=$2 ;;
    --target-imgref) target_imgref=$2 ;;
    --root) root=$2 ;;
    --stateroot) stateroot=$2 ;;
    --ref) ref=$2 ;;
    --karg) kargs+=("$2") ;;
    --firmware) firmware=$2 ;;
    --disk) disk=$2 ;;
    --log) log_file=$2 ;;
    esac
    shift 2
  done
}

# ---- output, log, failure ----
stamp() { date -u +%H:%M:%S; }
log() { printf '%s %s\n' "$(stamp)" "$*"; }
say() {
  printf 'atomiso: %s\n' "$*" >&3
  log "atomiso: $*"
}
progress() {
  printf 'atomiso-progress %s %s\n' "$1" "$2" >&3
  log "atomiso-progress $1 $2"
}
now_us() { echo "${EPOCHREALTIME/./}"; }
timing() { # timing PHASE START_US
  local d=$(($(now_us) - $2))
  local s
  s=$(printf '%d.%d' $((d / 1000000)) $(((d / 100000) % 10)))
  printf 'atomiso-timing %s %s\n' "$1" "$s" >&3
  log "atomiso-timing $1 $s"
}
quote() {
  local out="" a
  for a in "$@"; do out+="$(printf '%q' "$a") "; done
  printf '%s' "${out% }"
}

wrote=0 # set by the backend once the target has been written to
errored=0
die() {
  local msg=$*
  if [ "$wrote" = 0 ]; then
    msg="$msg (nothing was written to the target)"
  else
    msg="$msg (the target is partly written: let the installer format it again before retrying)"
  fi
  log "atomiso-error: $msg"
  [ "$errored" = 1 ] || printf 'atomiso-error: %s; log: %s\n' "$msg" "$log_file" >&4
  errored=1
  exit 1
}
# The functions below run from traps only.
# shellcheck disable=SC2317
on_err() {
  local status=$? line=$1 cmd=$2
  [ "$BASHPID" = "$$" ] || exit "$status"
  die "internal error in $backend line $line (status $status: $cmd)"
}
backend_cleanup() { :; }
# shellcheck disable=SC2317
cleanup() {
  backend_cleanup
  rm -rf -- "${tmp:?}"
}

# backend_start NAME ARGS...: parses the command line, then sends all output to the log;
# from here on only the protocol lines reach the caller.
backend_start() {
  backend=$1
  shift
  local argv=("$@")
  log_file=/var/log/atomiso/$backend.log
  parse_args "$@"
  if ! { mkdir -p -- "$(dirname -- "$log_file")" && : >>"$log_file"; }; then
    echo "atomiso-error: cannot write the log file $log_file; pass --log with a writable path" >&2
    exit 1
  fi
  exec 3>&1 4>&2
  exec >>"$log_file" 2>&1
  tmp=$(mktemp -d "/tmp/atomiso-$backend.XXXXXX")
  trap 'on_err "$LINENO" "$BASH_COMMAND"' ERR
  trap cleanup EXIT
  trap 'die "interrupted"' INT TERM
  started=$(now_us)
  log "$backend $(quote "${argv[@]}")"
  log "layout=$layout pull=$pull tls-verify=$tls_verify digest=$digest target-imgref=$target_imgref root=$root stateroot=$stateroot ref=$ref firmware=$firmware disk=$disk kargs=$(quote "${kargs[@]}")"
}

# run WHY CMD...: runs CMD with its output in the log; on failure dies with the helper's own
# atomiso-error line if it printed one, else with WHY and the command's last output line.
run() {
  local why=$1 status=0 msg last
  shift
  log "+ $(quote "$@")"
  "$@" >"$tmp/cmd.out" 2>&1 3>&- 4>&- </dev/null || status=$?
  cat -- "$tmp/cmd.out"
  [ "$status" -eq 0 ] && return 0
  msg=$(sed -n 's/^atomiso-error: //p' "$tmp/cmd.out" | tail -n 1) || true
  [ -z "$msg" ] || die "$msg"
  last=$(grep -v '^[[:space:]]*$' "$tmp/cmd.out" | tail -n 1 | cut -c1-300) || true
  die "$why${last:+ ($1 said: $last)}"
}

# ---- checks both backends make ----
# The arguments both take; each backend then checks what is its own (--target-imgref's form, …).
check_common_args() {
  local k
  [ -n "$layout$pull" ] || die "--layout (the OCI image layout on the installation medium) or --pull (the pinned registry reference) is required"
  [ -z "$layout" ] || [ -z "$pull" ] || die "pass --layout or --pull, not both"
  case $tls_verify in true | false) ;; *) die "--tls-verify must be true or false" ;; esac
  [ -n "$digest" ] || die "--digest is required (the image's manifest digest)"
  [[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] || die "--digest $digest is not sha256:<64 hex digits>"
  [ -n "$target_imgref" ] || die "--target-imgref is required (the registry reference the system updates from)"
  [ -n "$root" ] || die "--root is required (the mounted target root)"
  [[ $stateroot =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] || die "--stateroot \"$stateroot\" is missing or invalid (letters, digits, _ . -)"
  for k in "${kargs[@]}"; do
    [[ -n $k && $k =~ ^[^[:space:]]+$ ]] || die "kernel argument \"$k\" is empty or contains white space"
    # rootflags=subvol=NAME comes from the installers themselves (a btrfs root on a subvolume);
    # both refuse rootflags= in a profile or answer file, so any other form is a mistake.
    [[ $k =~ ^rootflags=subvol=[A-Za-z0-9@_.-]+$ ]] && continue
    case $k in root=* | rootflags=* | ostree=*) die "kernel argument $k is set by the installer; remove it from the configuration" ;; esac
  done
}

# need_commands CMD...: dies unless the live system has every CMD.
need_commands() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null || die "$c is not installed in the live system; the installer image is incomplete"
  done
}

# expect_empty DIR WHAT ALLOWED...: dies when DIR holds anything but the ALLOWED names (what
# the installer's formatting leaves: lost+found and the mount points below).
expect_empty() {
  local dir=$1 what=$2 unexpected name
  local filter=()
  shift 2
  for name in "$@"; do filter+=(! -name "$name"); done
  unexpected=$(find "$dir" -mindepth 1 -maxdepth 1 "${filter[@]}" -printf '%f ') || true
  [ -z "$unexpected" ] || die "$what is not empty (it has: $unexpected); format it first"
}

# verify_payload: checks the layout against the pinned digest (verify-payload) before anything
# is written; its records (layers, labels, total) are left in $tmp/payload.tsv.
verify_payload() {
  local status=0 msg
  log "+ $(quote "$here/verify-payload" "$layout" "$digest")"
  "$here/verify-payload" "$layout" "$digest" >"$tmp/payload.tsv" 2>"$tmp/verify.err" 3>&- 4>&- || status=$?
  cat -- "$tmp/verify.err" "$tmp/payload.tsv"
  if [ "$status" -ne 0 ]; then
    msg=$(sed -n 's/^atomiso-error: //p' "$tmp/verify.err" | tail -n 1) || true
    die "${msg:-the payload could not be verified (verify-payload exit status $status)}"
  fi
}

# backend_done STATE_VAR: the last step of a successful install; copies the log to the
# installed system's /var/log/atomiso/ (best effort: the system is installed either way).
backend_done() {
  local kept=$1/log/atomiso/$backend.log
  timing total "$started"
  progress 100 "The system image is installed"
  run "cannot keep the log on the target" mkdir -p -- "$1/log/atomiso"
  if cp -- "$log_file" "$kept"; then chmod 0600 -- "$kept" || true; fi
  exit 0
}

// The kernel-argument grammar atomiso accepts (iso.kernel_args, installer.kernel_args): `name`
// or `name=value`, one argument per entry. No quoting, blanks, GRUB or shell metacharacters
// ($ ; { } " ' \ | & < > # ` ( ) * ? [ ] !), so an argument means the same to GRUB, to the
// kernel, to the BLS entries ostree writes and to any shell that may see it.
export const KERNEL_ARG = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(=[A-Za-z0-9_.,:/@+=%~-]*)?$/;
export const KERNEL_ARG_MAX = 256;

export function isKernelArg(arg: string): boolean {
  return arg.length <= KERNEL_ARG_MAX && KERNEL_ARG.test(arg);
}

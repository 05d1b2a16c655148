// GRUB images for the ISO: the BIOS El Torito core image (with every module the menu needs
// built in, so the ISO carries no module folder) and the host files for the UEFI chain.
export const BIOS_MODULES = [
  "biosdisk",
  "iso9660",
  "part_msdos",
  "part_gpt",
  "fat",
  "ext2",
  "normal",
  "linux",
  "search",
  "search_fs_file",
  "search_label",
  "configfile",
  "echo",
  "test",
  "serial",
  "terminal",
  "gzio",
  "ls",
  "cat",
  "reboot",
  "halt",
  "sleep",
  "all_video",
  "font",
  "gfxterm",
  "true",
  "regexp",
  "minicmd",
  "loadenv",
];

export function grubMkimageBiosArgv(output: string): string[] {
  return [
    "grub-mkimage",
    "-O",
    "i386-pc-eltorito",
    "-p",
    "/boot/grub",
    "-o",
    output,
    ...BIOS_MODULES,
  ];
}

/** Host files of the boot chain (Debian packages grub-pc-bin, shim-signed, grub-efi-amd64-signed). */
export const BOOT_SOURCES = {
  hybridMbr: "/usr/lib/grub/i386-pc/boot_hybrid.img",
  shim: "/usr/lib/shim/shimx64.efi.signed",
  mokManager: "/usr/lib/shim/mmx64.efi.signed",
  // The signed "cd" GRUB: finds the medium by /.disk/info and loads /boot/grub/grub.cfg.
  grubEfi: "/usr/lib/grub/x86_64-efi-signed/gcdx64.efi.signed",
} as const;

"""atomiso's live-system installer logic, shared by both installers.

Imported by the Calamares job modules (calamares/modules/atomisodeploy, atomisoumount), by the
unattended installer (atomiso-install) and by the payload check (check-payload). Installed in
the live root at /usr/lib/python3/dist-packages/atomiso_live, where Debian's python3 and
Calamares' embedded interpreter both find it. Standard library only; Python 3.11+.

  plan     the only reader and validator of the install plan (/etc/atomiso/install.json)
  kargs    the kernel-argument grammar (plan and answer file)
  backend  the deploy backend's argv, running it, its line protocol
  target   what is written into the new deployment: crypttab, fstab, groups, safe writes
  accounts the answer file's rules that need the image: accounts, time zones, GECOS text
  image    reading a few files from the payload's OCI layers before the disk is touched
  proc     running commands
  mounts   the mount table and unmounting
  gpt      GPT partition type GUIDs
  layout   partition planning from sfdisk --json: free space, shrink, replace, explicit layouts
  shrink   shrinking ntfs, ext2/3/4 and btrfs: the commands and their output
  fat      free space on an existing FAT (EFI system) partition, read without mounting
  calamares_layout  the layouts Calamares hands over: what can install and boot
  btrfs    the btrfs subvolume layout: subvolumes, rootflags= kernel argument, fstab lines
"""

#!/bin/sh
# Installs the Debian packages hvm's tests, benchmarks and image builder use, if missing.
# Safe to run again: it does nothing when everything is there.
set -e
need=""
command -v nasm >/dev/null 2>&1 || need="$need nasm"
command -v qemu-system-x86_64 >/dev/null 2>&1 || need="$need qemu-system-x86"
command -v qemu-img >/dev/null 2>&1 || need="$need qemu-utils"
[ -f /usr/share/seabios/bios-256k.bin ] || need="$need seabios"
command -v cpio >/dev/null 2>&1 || need="$need cpio"
command -v depmod >/dev/null 2>&1 || need="$need kmod"
command -v xz >/dev/null 2>&1 || need="$need xz-utils"
command -v iasl >/dev/null 2>&1 || need="$need acpica-tools"
command -v gcc >/dev/null 2>&1 || need="$need gcc"
command -v tshark >/dev/null 2>&1 || need="$need tshark"
command -v genisoimage >/dev/null 2>&1 || need="$need genisoimage"
# Boot media for Linux through SeaBIOS (src/guest/boot-media.ts): syslinux on a FAT disk, isolinux on an ISO.
command -v syslinux >/dev/null 2>&1 || need="$need syslinux"
[ -f /usr/lib/syslinux/mbr/mbr.bin ] && [ -f /usr/lib/syslinux/modules/bios/ldlinux.c32 ] || need="$need syslinux-common"
[ -f /usr/lib/ISOLINUX/isolinux.bin ] || need="$need isolinux"
command -v mcopy >/dev/null 2>&1 || need="$need mtools"
command -v xorriso >/dev/null 2>&1 || need="$need xorriso"
command -v vncsnapshot >/dev/null 2>&1 || need="$need vncsnapshot"
command -v gvnccapture >/dev/null 2>&1 || need="$need gvncviewer"
command -v socat >/dev/null 2>&1 || need="$need socat"
[ -z "$need" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "hvm setup: apt-get not found; install these yourself:$need" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "hvm setup: installing$need" >&2
$SUDO apt-get update -q >/dev/null 2>&1 || echo "hvm setup: apt-get update failed; trying with the current index" >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $need >&2

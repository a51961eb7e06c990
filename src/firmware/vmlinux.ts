// The kernel inside a bzImage, decompressed on the host. A bzImage carries its kernel compressed
// (payload_offset/payload_length in the setup header, protocol 2.08+) and decompresses it with
// its own code before it starts; on the soft CPU that code is about 2.3 billion instructions of
// a Debian kernel's boot, so hvm may run the host's decompressor instead and load the ELF
// vmlinux itself, entering startup_32 with the same boot_params — what the kernel's own
// decompressor hands over (arch/x86/boot/compressed/head_32.S, then misc.c parse_elf).

import { spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { parseSetupHeader } from './bzimage.js';

const HDR_PAYLOAD_OFFSET = 0x248;   // u32: compressed payload, from the protected-mode code start (2.08+)
const HDR_PAYLOAD_LENGTH = 0x24c;   // u32

/** ELF identification and the fields hvm reads (ELF32, little-endian, i386). */
const ELF_MAGIC = 0x464c457f;
const ELFCLASS32 = 1;
const ELFDATA2LSB = 1;
const EM_386 = 3;
const PT_LOAD = 1;

/** One loadable segment: file bytes at a physical address, then zeros up to memSize. */
export interface ElfSegment { paddr: number; data: Uint8Array; memSize: number }

/** A parsed 32-bit vmlinux. */
export interface Vmlinux { entry: number; segments: ElfSegment[] }

/** Whether `bytes` start with the ELF magic. */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === ELF_MAGIC;
}

/** Parses an i386 ELF vmlinux's program headers; throws with the reason when it cannot. */
export function parseVmlinux(elf: Uint8Array): Vmlinux {
  if (!isElf(elf)) throw new Error('not an ELF file');
  const dv = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  if (elf.length < 52) throw new Error('truncated ELF header');
  if (elf[4] !== ELFCLASS32 || elf[5] !== ELFDATA2LSB) throw new Error('not a 32-bit little-endian ELF (an x86-64 vmlinux needs the bzImage and KVM)');
  if (dv.getUint16(18, true) !== EM_386) throw new Error('not an i386 ELF');
  const entry = dv.getUint32(24, true);
  const phoff = dv.getUint32(28, true);
  const phentsize = dv.getUint16(42, true);
  const phnum = dv.getUint16(44, true);
  if (phentsize < 32 || phoff + phnum * phentsize > elf.length) throw new Error('ELF program headers lie outside the file');
  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (dv.getUint32(at, true) !== PT_LOAD) continue;
    const offset = dv.getUint32(at + 4, true);
    const paddr = dv.getUint32(at + 12, true);
    const fileSize = dv.getUint32(at + 16, true);
    const memSize = dv.getUint32(at + 20, true);
    if (offset + fileSize > elf.length || memSize < fileSize) throw new Error(`ELF segment ${i} lies outside the file`);
    segments.push({ paddr, data: elf.subarray(offset, offset + fileSize), memSize });
  }
  if (segments.length === 0) throw new Error('ELF file has no loadable segments');
  return { entry, segments };
}

function run(tool: string, args: string[], input: Uint8Array): Uint8Array {
  const r = spawnSync(tool, args, { input, maxBuffer: 1 << 30 });
  if (r.error) throw new Error(`${tool} is needed to decompress this kernel on the host: ${r.error.message}`);
  // The kernel's payload ends where its decompressor stops reading, so xz may report an
  // unexpected end after writing everything: the ELF check below decides.
  if (r.status !== 0 && r.stdout.length === 0) throw new Error(`${tool} could not decompress the kernel: ${r.stderr.toString().trim()}`);
  return new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.byteLength);
}

/**
 * The ELF vmlinux inside a bzImage, or null when the image has no payload fields (protocol
 * before 2.08) or uses a compression the host cannot undo.
 */
export function extractVmlinux(bzImage: Uint8Array): Uint8Array | null {
  const hdr = parseSetupHeader(bzImage);
  if (hdr.version < 0x0208) return null;
  const dv = new DataView(bzImage.buffer, bzImage.byteOffset, bzImage.byteLength);
  const start = hdr.setupBytes + dv.getUint32(HDR_PAYLOAD_OFFSET, true);
  const len = dv.getUint32(HDR_PAYLOAD_LENGTH, true);
  if (len === 0 || start + len > bzImage.length) return null;
  const payload = bzImage.subarray(start, start + len);
  const m = (i: number): number => payload[i] ?? -1;
  let out: Uint8Array | null = null;
  try {
    if (m(0) === 0x1f && m(1) === 0x8b) out = gunzipSync(payload);
    else if (m(0) === 0xfd && m(1) === 0x37 && m(2) === 0x7a && m(3) === 0x58) out = run('xz', ['-dc'], payload);
    else if (m(0) === 0x28 && m(1) === 0xb5 && m(2) === 0x2f && m(3) === 0xfd) out = run('zstd', ['-dcq'], payload);
    else if (m(0) === 0x5d && m(1) === 0x00) out = run('xz', ['-dc', '--format=lzma'], payload);
  } catch {
    return null;
  }
  if (out === null || !isElf(out)) return null;
  try {
    parseVmlinux(out);
  } catch {
    return null;
  }
  return out;
}

// The Linux/x86 bzImage setup header (Documentation/arch/x86/boot.rst, "The real-mode kernel
// header"). Offsets are the same in the image file and in boot_params (the "zero page"), where
// the header is copied at 0x1F1.

/** Offsets of the setup header fields, in the image and in boot_params. */
export const HDR_SETUP_SECTS = 0x1f1;       // u8: 512-byte sectors of real-mode setup code (0 means 4)
export const HDR_SYSSIZE = 0x1f4;           // u32: protected-mode code size in 16-byte paragraphs
export const HDR_VID_MODE = 0x1fa;          // u16
export const HDR_BOOT_FLAG = 0x1fe;         // u16: 0xAA55
export const HDR_JUMP = 0x200;              // u16: jmp short; byte 0x201 is the header's length past 0x202
export const HDR_HEADER = 0x202;            // u32: "HdrS"
export const HDR_VERSION = 0x206;           // u16: boot protocol version (major << 8 | minor)
export const HDR_TYPE_OF_LOADER = 0x210;    // u8
export const HDR_LOADFLAGS = 0x211;         // u8
export const HDR_CODE32_START = 0x214;      // u32: 32-bit entry (the load address)
export const HDR_RAMDISK_IMAGE = 0x218;     // u32
export const HDR_RAMDISK_SIZE = 0x21c;      // u32
export const HDR_HEAP_END_PTR = 0x224;      // u16
export const HDR_CMD_LINE_PTR = 0x228;      // u32
export const HDR_INITRD_ADDR_MAX = 0x22c;   // u32: highest address the initrd's last byte may use (2.03+)
export const HDR_KERNEL_ALIGNMENT = 0x230;  // u32 (2.05+)
export const HDR_RELOCATABLE_KERNEL = 0x234; // u8 (2.05+)
export const HDR_XLOADFLAGS = 0x236;        // u16 (2.12+)
export const HDR_CMDLINE_SIZE = 0x238;      // u32: longest command line, without its NUL (2.06+)
export const HDR_PREF_ADDRESS = 0x258;      // u64 (2.10+)
export const HDR_INIT_SIZE = 0x260;         // u32: linear memory the kernel needs from its runtime start (2.10+)
/** End of the header area in boot_params (edd_mbr_sig_buffer starts here). */
export const HDR_AREA_END = 0x290;

/** "HdrS" read as a little-endian u32. */
export const HDRS_MAGIC = 0x53726448;
export const BOOT_FLAG_MAGIC = 0xaa55;

/** loadflags bits. */
export const LOADED_HIGH = 0x01;   // protected-mode code loads at 0x100000 (bzImage)
export const KEEP_SEGMENTS = 0x40; // obsolete: do not reload segment registers in the 32-bit entry
export const CAN_USE_HEAP = 0x80;  // heap_end_ptr is valid

/** xloadflags bits. */
export const XLF_KERNEL_64 = 0x01;                  // has the 64-bit entry at load address + 0x200
export const XLF_CAN_BE_LOADED_ABOVE_4G = 0x02;

/** type_of_loader: "undefined" (a loader without an assigned id). */
export const LOADER_TYPE_UNDEFINED = 0xff;

/** Oldest boot protocol hvm loads: 2.06 brings cmdline_size and a 32-bit entry we rely on. */
export const MIN_PROTOCOL = 0x0206;

/** What the loader needs from a bzImage's setup header. */
export interface SetupHeader {
  /** Boot protocol version, major << 8 | minor. */
  version: number;
  /** Bytes of real-mode setup (boot sector included); the protected-mode kernel follows. */
  setupBytes: number;
  /** Bytes of the protected-mode kernel in the file. */
  kernelBytes: number;
  /** Where the header in the image ends (copy [0x1F1, headerEnd) into boot_params). */
  headerEnd: number;
  loadflags: number;
  xloadflags: number;
  relocatable: boolean;
  kernelAlignment: number;
  initrdAddrMax: number;
  cmdlineSize: number;
  /** Runtime start the kernel prefers (LOAD_PHYSICAL_ADDR); 1 MiB before protocol 2.10. */
  prefAddress: number;
  /** Memory needed from prefAddress while decompressing (0 before protocol 2.10). */
  initSize: number;
}

/** Formats a protocol version as "2.15". */
export function protocolString(version: number): string {
  return `${version >> 8}.${(version & 0xff).toString().padStart(2, '0')}`;
}

/**
 * Parses and checks a bzImage's setup header. Throws an Error whose message says what is wrong:
 * "not a bzImage (…)" or "boot protocol x.y too old (…)".
 */
export function parseSetupHeader(kernel: Uint8Array): SetupHeader {
  if (kernel.length < 0x1000) throw new Error(`not a bzImage (only ${kernel.length} bytes)`);
  const dv = new DataView(kernel.buffer, kernel.byteOffset, kernel.byteLength);
  if (dv.getUint32(HDR_HEADER, true) !== HDRS_MAGIC) throw new Error('not a bzImage (no "HdrS" signature at 0x202)');
  if (dv.getUint16(HDR_BOOT_FLAG, true) !== BOOT_FLAG_MAGIC) throw new Error('not a bzImage (no 0xAA55 boot flag at 0x1FE)');
  const version = dv.getUint16(HDR_VERSION, true);
  if (version < MIN_PROTOCOL) {
    throw new Error(`boot protocol ${protocolString(version)} too old (hvm needs ${protocolString(MIN_PROTOCOL)} or later)`);
  }
  const loadflags = dv.getUint8(HDR_LOADFLAGS);
  if (!(loadflags & LOADED_HIGH)) throw new Error('not a bzImage (a zImage: LOADED_HIGH is clear in loadflags)');
  const sects = dv.getUint8(HDR_SETUP_SECTS);
  const setupBytes = ((sects === 0 ? 4 : sects) + 1) * 512;
  if (setupBytes >= kernel.length) throw new Error(`not a bzImage (setup of ${setupBytes} bytes leaves no kernel in ${kernel.length})`);
  const kernelBytes = kernel.length - setupBytes;
  const syssize = dv.getUint32(HDR_SYSSIZE, true);
  if (syssize * 16 > kernelBytes) {
    throw new Error(`not a bzImage (truncated: the header says ${syssize * 16} bytes of kernel, the file has ${kernelBytes})`);
  }
  const headerEnd = Math.min(HDR_HEADER + dv.getUint8(HDR_JUMP + 1), HDR_AREA_END);
  const has = (v: number): boolean => version >= v;
  return {
    version,
    setupBytes,
    kernelBytes,
    headerEnd,
    loadflags,
    xloadflags: has(0x020c) ? dv.getUint16(HDR_XLOADFLAGS, true) : 0,
    relocatable: dv.getUint8(HDR_RELOCATABLE_KERNEL) !== 0,
    kernelAlignment: dv.getUint32(HDR_KERNEL_ALIGNMENT, true),
    initrdAddrMax: dv.getUint32(HDR_INITRD_ADDR_MAX, true),
    cmdlineSize: dv.getUint32(HDR_CMDLINE_SIZE, true),
    // pref_address is 64-bit; kernels put it below 4 GiB (it is LOAD_PHYSICAL_ADDR).
    prefAddress: has(0x020a) ? Number(dv.getBigUint64(HDR_PREF_ADDRESS, true)) : 0x100000,
    initSize: has(0x020a) ? dv.getUint32(HDR_INIT_SIZE, true) : 0,
  };
}

/** Checks that `kernel` is a bzImage hvm can boot; throws with the reason if not. */
export function checkBzImage(kernel: Uint8Array): SetupHeader {
  return parseSetupHeader(kernel);
}

// The Linux KVM ABI for x86-64: ioctl numbers built with the kernel's _IO/_IOR/_IOW/_IOWR
// encoding, capabilities, exit reasons, and the byte layouts of the structures we exchange
// (include/uapi/linux/kvm.h and arch/x86/include/uapi/asm/kvm.h; offsets checked against the
// headers with offsetof).

// --- ioctl encoding (include/uapi/asm-generic/ioctl.h) ---------------------------------------

const IOC_NRBITS = 8;
const IOC_TYPEBITS = 8;
const IOC_SIZEBITS = 14;
const IOC_NRSHIFT = 0;
const IOC_TYPESHIFT = IOC_NRSHIFT + IOC_NRBITS;
const IOC_SIZESHIFT = IOC_TYPESHIFT + IOC_TYPEBITS;
const IOC_DIRSHIFT = IOC_SIZESHIFT + IOC_SIZEBITS;
const IOC_NONE = 0;
const IOC_WRITE = 1;
const IOC_READ = 2;

/** _IOC(dir, type, nr, size) as an unsigned number. */
export function ioc(dir: number, type: number, nr: number, size: number): number {
  if (size >= 1 << IOC_SIZEBITS) throw new Error(`ioctl argument of ${size} bytes is too large`);
  return ((dir << IOC_DIRSHIFT) | (type << IOC_TYPESHIFT) | (nr << IOC_NRSHIFT) | (size << IOC_SIZESHIFT)) >>> 0;
}
export const io = (type: number, nr: number): number => ioc(IOC_NONE, type, nr, 0);
export const ior = (type: number, nr: number, size: number): number => ioc(IOC_READ, type, nr, size);
export const iow = (type: number, nr: number, size: number): number => ioc(IOC_WRITE, type, nr, size);
export const iowr = (type: number, nr: number, size: number): number => ioc(IOC_READ | IOC_WRITE, type, nr, size);

// --- structure sizes ---------------------------------------------------------------------------

/** struct kvm_regs: 18 × u64 (rax…r15, rip, rflags). */
export const KVM_REGS_BYTES = 144;
/** struct kvm_sregs: 8 segments, 2 dtables, cr0/2/3/4/8, efer, apic_base, interrupt_bitmap[4]. */
export const KVM_SREGS_BYTES = 312;
/** struct kvm_segment. */
export const KVM_SEGMENT_BYTES = 24;
/** struct kvm_dtable: base u64, limit u16, padding. */
export const KVM_DTABLE_BYTES = 16;
/** struct kvm_userspace_memory_region: slot, flags, guest_phys_addr, memory_size, userspace_addr. */
export const KVM_USERSPACE_MEMORY_REGION_BYTES = 32;
/** struct kvm_pit_config: flags + pad[15]. */
export const KVM_PIT_CONFIG_BYTES = 64;
/** struct kvm_irq_level: irq (or status) u32, level u32. */
export const KVM_IRQ_LEVEL_BYTES = 8;
/** struct kvm_cpuid2 header: nent u32, padding u32; then nent × struct kvm_cpuid_entry2. */
export const KVM_CPUID2_HEADER_BYTES = 8;
export const KVM_CPUID_ENTRY2_BYTES = 40;
/** Most CPUID entries we ask KVM for (KVM itself stops at 256 today). */
export const KVM_CPUID_ENTRIES_LIMIT = 4096;
/** struct kvm_msrs header: nmsrs u32, pad u32; then nmsrs × struct kvm_msr_entry. */
export const KVM_MSRS_HEADER_BYTES = 8;
export const KVM_MSR_ENTRY_BYTES = 16;
/** struct kvm_interrupt: irq u32. */
export const KVM_INTERRUPT_BYTES = 4;
/** struct kvm_irq_routing header: nr u32, flags u32; then nr × struct kvm_irq_routing_entry. */
export const KVM_IRQ_ROUTING_HEADER_BYTES = 8;
export const KVM_IRQ_ROUTING_ENTRY_BYTES = 48;

// --- ioctls ------------------------------------------------------------------------------------

const KVMIO = 0xae;

// On /dev/kvm.
export const KVM_GET_API_VERSION = io(KVMIO, 0x00);
export const KVM_CREATE_VM = io(KVMIO, 0x01);
export const KVM_CHECK_EXTENSION = io(KVMIO, 0x03);
export const KVM_GET_VCPU_MMAP_SIZE = io(KVMIO, 0x04);
export const KVM_GET_SUPPORTED_CPUID = iowr(KVMIO, 0x05, KVM_CPUID2_HEADER_BYTES);
// On a VM fd.
export const KVM_CREATE_VCPU = io(KVMIO, 0x41);
export const KVM_SET_USER_MEMORY_REGION = iow(KVMIO, 0x46, KVM_USERSPACE_MEMORY_REGION_BYTES);
/** struct kvm_dirty_log: slot u32, padding u32, dirty_bitmap pointer (u64). */
export const KVM_DIRTY_LOG_BYTES = 16;
export const KVM_GET_DIRTY_LOG = iow(KVMIO, 0x42, KVM_DIRTY_LOG_BYTES);
export const KVM_SET_TSS_ADDR = io(KVMIO, 0x47);
export const KVM_SET_IDENTITY_MAP_ADDR = iow(KVMIO, 0x48, 8);
export const KVM_CREATE_IRQCHIP = io(KVMIO, 0x60);
export const KVM_IRQ_LINE = iow(KVMIO, 0x61, KVM_IRQ_LEVEL_BYTES);
export const KVM_SET_GSI_ROUTING = iow(KVMIO, 0x6a, KVM_IRQ_ROUTING_HEADER_BYTES);
export const KVM_CREATE_PIT2 = iow(KVMIO, 0x77, KVM_PIT_CONFIG_BYTES);
// On a vCPU fd.
export const KVM_RUN = io(KVMIO, 0x80);
export const KVM_GET_REGS = ior(KVMIO, 0x81, KVM_REGS_BYTES);
export const KVM_SET_REGS = iow(KVMIO, 0x82, KVM_REGS_BYTES);
export const KVM_GET_SREGS = ior(KVMIO, 0x83, KVM_SREGS_BYTES);
export const KVM_SET_SREGS = iow(KVMIO, 0x84, KVM_SREGS_BYTES);
export const KVM_INTERRUPT = iow(KVMIO, 0x86, KVM_INTERRUPT_BYTES);
export const KVM_GET_MSRS = iowr(KVMIO, 0x88, KVM_MSRS_HEADER_BYTES);
export const KVM_SET_MSRS = iow(KVMIO, 0x89, KVM_MSRS_HEADER_BYTES);
export const KVM_SET_CPUID2 = iow(KVMIO, 0x90, KVM_CPUID2_HEADER_BYTES);

/** The only KVM API version there has ever been. */
export const KVM_API_VERSION = 12;

// --- capabilities (KVM_CHECK_EXTENSION) --------------------------------------------------------

export const KVM_CAP_IRQCHIP = 0;
export const KVM_CAP_USER_MEMORY = 3;
export const KVM_CAP_SET_TSS_ADDR = 4;
export const KVM_CAP_NR_VCPUS = 9;
export const KVM_CAP_NR_MEMSLOTS = 10;
export const KVM_CAP_IRQ_ROUTING = 25;
export const KVM_CAP_PIT2 = 33;
export const KVM_CAP_SET_IDENTITY_MAP_ADDR = 37;
export const KVM_CAP_MAX_VCPUS = 66;
export const KVM_CAP_READONLY_MEM = 81;
export const KVM_CAP_IMMEDIATE_EXIT = 136;

// --- flags -------------------------------------------------------------------------------------

/** kvm_userspace_memory_region.flags: guest writes exit as MMIO. */
export const KVM_MEM_READONLY = 0x2;
/** kvm_userspace_memory_region.flags: KVM logs the slot's written pages (KVM_GET_DIRTY_LOG). */
export const KVM_MEM_LOG_DIRTY_PAGES = 0x1;
/** kvm_pit_config.flags: port 0x61's speaker bits are a dummy in the kernel. */
export const KVM_PIT_SPEAKER_DUMMY = 0x1;
/** kvm_irq_routing_entry.type. */
export const KVM_IRQ_ROUTING_IRQCHIP = 1;
/** kvm_irq_routing_entry.u.irqchip.irqchip. */
export const KVM_IRQCHIP_PIC_MASTER = 0;
export const KVM_IRQCHIP_PIC_SLAVE = 1;
export const KVM_IRQCHIP_IOAPIC = 2;
/** kvm_cpuid_entry2.flags: the leaf has sub-leaves selected by ECX. */
export const KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 0x1;

// --- kvm_run -----------------------------------------------------------------------------------

export const KVM_RUN_IMMEDIATE_EXIT = 1;
export const KVM_RUN_EXIT_REASON = 8;
/** Start of the exit-reason union. */
const U = 32;
export const KVM_RUN_IO_DIRECTION = U;
export const KVM_RUN_IO_SIZE = U + 1;
export const KVM_RUN_IO_PORT = U + 2;
export const KVM_RUN_IO_COUNT = U + 4;
export const KVM_RUN_IO_DATA_OFFSET = U + 8;
export const KVM_RUN_MMIO_PHYS_ADDR = U;
export const KVM_RUN_MMIO_DATA = U + 8;
export const KVM_RUN_MMIO_LEN = U + 16;
export const KVM_RUN_MMIO_IS_WRITE = U + 20;
export const KVM_RUN_FAIL_ENTRY_REASON = U;
export const KVM_RUN_FAIL_ENTRY_CPU = U + 8;
export const KVM_RUN_INTERNAL_SUBERROR = U;
export const KVM_RUN_INTERNAL_NDATA = U + 4;
export const KVM_RUN_INTERNAL_DATA = U + 8;
export const KVM_RUN_SYSTEM_EVENT_TYPE = U;
export const KVM_RUN_SYSTEM_EVENT_NDATA = U + 4;
export const KVM_RUN_HW_EXIT_REASON = U;
export const KVM_RUN_EX_EXCEPTION = U;
export const KVM_RUN_EX_ERROR_CODE = U + 4;
/** At most this many u64 in kvm_run.internal.data. */
export const KVM_INTERNAL_DATA_MAX = 16;

/** kvm_run.io.direction. */
export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;

/** kvm_run.exit_reason. */
export const KVM_EXIT_UNKNOWN = 0;
export const KVM_EXIT_EXCEPTION = 1;
export const KVM_EXIT_IO = 2;
export const KVM_EXIT_HYPERCALL = 3;
export const KVM_EXIT_DEBUG = 4;
export const KVM_EXIT_HLT = 5;
export const KVM_EXIT_MMIO = 6;
export const KVM_EXIT_IRQ_WINDOW_OPEN = 7;
export const KVM_EXIT_SHUTDOWN = 8;
export const KVM_EXIT_FAIL_ENTRY = 9;
export const KVM_EXIT_INTR = 10;
export const KVM_EXIT_NMI = 16;
export const KVM_EXIT_INTERNAL_ERROR = 17;
export const KVM_EXIT_SYSTEM_EVENT = 24;
export const KVM_EXIT_IOAPIC_EOI = 26;

/** Names of the exit reasons, for messages. */
export const KVM_EXIT_NAMES: Readonly<Record<number, string>> = {
  0: 'UNKNOWN', 1: 'EXCEPTION', 2: 'IO', 3: 'HYPERCALL', 4: 'DEBUG', 5: 'HLT', 6: 'MMIO', 7: 'IRQ_WINDOW_OPEN',
  8: 'SHUTDOWN', 9: 'FAIL_ENTRY', 10: 'INTR', 11: 'SET_TPR', 12: 'TPR_ACCESS', 16: 'NMI', 17: 'INTERNAL_ERROR',
  21: 'WATCHDOG', 24: 'SYSTEM_EVENT', 26: 'IOAPIC_EOI', 27: 'HYPERV', 29: 'X86_RDMSR', 30: 'X86_WRMSR',
  31: 'DIRTY_RING_FULL', 33: 'X86_BUS_LOCK', 37: 'NOTIFY', 39: 'MEMORY_FAULT',
};

/** kvm_run.internal.suberror. */
export const KVM_INTERNAL_ERROR_NAMES: Readonly<Record<number, string>> = {
  1: 'EMULATION', 2: 'SIMUL_EX', 3: 'DELIVERY_EV', 4: 'UNEXPECTED_EXIT_REASON', 5: 'EMULATION_FLAG_INSTRUCTION_BYTES',
};

// --- kvm_segment / kvm_sregs / kvm_regs ---------------------------------------------------------

export const SEG_BASE = 0;
export const SEG_LIMIT = 8;
export const SEG_SELECTOR = 12;
export const SEG_TYPE = 14;
export const SEG_PRESENT = 15;
export const SEG_DPL = 16;
export const SEG_DB = 17;
export const SEG_S = 18;
export const SEG_L = 19;
export const SEG_G = 20;
export const SEG_AVL = 21;
export const SEG_UNUSABLE = 22;

/** kvm_sregs offsets: segments in this order, then the tables and control registers. */
export const SREGS_SEGMENTS = ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'tr', 'ldt'] as const;
export const SREGS_GDT = 192;
export const SREGS_IDT = 208;
export const SREGS_CR0 = 224;
export const SREGS_CR2 = 232;
export const SREGS_CR3 = 240;
export const SREGS_CR4 = 248;
export const SREGS_CR8 = 256;
export const SREGS_EFER = 264;
export const SREGS_APIC_BASE = 272;
export const SREGS_INTERRUPT_BITMAP = 280;

/** kvm_regs: the general registers in this order, then rip and rflags. */
export const REGS_ORDER = [
  'rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'rflags',
] as const;

// --- kvm_cpuid_entry2 ---------------------------------------------------------------------------

export const CPUID_FUNCTION = 0;
export const CPUID_INDEX = 4;
export const CPUID_FLAGS = 8;
export const CPUID_EAX = 12;
export const CPUID_EBX = 16;
export const CPUID_ECX = 20;
export const CPUID_EDX = 24;

// --- MSRs ---------------------------------------------------------------------------------------

export const MSR_IA32_TSC = 0x10;
export const MSR_IA32_APIC_BASE = 0x1b;
export const MSR_IA32_MISC_ENABLE = 0x1a0;
/** IA32_MISC_ENABLE bit 0: fast-string operations enabled (what firmware leaves set). */
export const MISC_ENABLE_FAST_STRING = 0x1n;

// The shared control block: per-vCPU request and run-state words, the interrupt-line levels the
// device model drives, and the word the soft accelerator sleeps on while halted. Checked by the
// vCPUs at block boundaries, never through postMessage (DESIGN.md, "The soft CPU is the hot path").

/** Requests the host makes of a vCPU (bits in its request word). */
export const enum VcpuRequest { Pause = 1, Stop = 2 }
/** What a vCPU reports in its run-state word. */
export const enum VcpuRunState { Running = 0, Paused = 1, Stopped = 2 }

/** ISA and PCI interrupt lines the device model can drive (IOAPIC pins 0..23). */
export const IRQ_LINES = 24;

const VCPU_WORDS = 4;
const MAX_VCPUS = 64;
const IRQ_BASE = MAX_VCPUS * VCPU_WORDS;
/** Per line: rising edges so far, so a pulse shorter than the CPU's poll is never missed. */
const IRQ_EDGES = IRQ_BASE + IRQ_LINES;
/** Bumped whenever any line changes; the soft accelerator compares it each block. */
const IRQ_GENERATION = IRQ_EDGES + IRQ_LINES;
/** The soft accelerator's sleep word: bumped by anything that must wake a halted CPU. */
const WAKE = IRQ_GENERATION + 1;
/** The ACPI PM timer's port while it decodes (0: none): the soft vCPU serves its reads itself. */
const PM_TIMER_PORT = WAKE + 1;
/**
 * The display's linear framebuffer (src/hypervisor/vram.ts): guest-physical base (uint32, 0 =
 * unmapped) and size, and a generation the soft vCPU compares after exits and per run slice; bumped when the
 * mapping moves and when the dirty bitmap is taken, so cached VRAM write translations go.
 */
const VRAM_BASE = PM_TIMER_PORT + 1;
const VRAM_SIZE = VRAM_BASE + 1;
const VRAM_GENERATION = VRAM_SIZE + 1;
const WORDS = VRAM_GENERATION + 1;

export const CONTROL_MAX_VCPUS = MAX_VCPUS;

/** A view over the control block; every thread constructs its own. */
export class ControlBlock {
  readonly words: Int32Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer);
  }

  static allocate(): SharedArrayBuffer { return new SharedArrayBuffer(WORDS * 4); }

  requestIndex(vcpu: number): number { return vcpu * VCPU_WORDS; }
  stateIndex(vcpu: number): number { return vcpu * VCPU_WORDS + 1; }

  requests(vcpu: number): number { return Atomics.load(this.words, vcpu * VCPU_WORDS); }
  setRequest(vcpu: number, bits: number): void { Atomics.or(this.words, vcpu * VCPU_WORDS, bits); this.wake(); }
  clearRequest(vcpu: number, bits: number): void { Atomics.and(this.words, vcpu * VCPU_WORDS, ~bits); this.wake(); }

  runState(vcpu: number): number { return Atomics.load(this.words, vcpu * VCPU_WORDS + 1); }
  setRunState(vcpu: number, s: VcpuRunState): void {
    Atomics.store(this.words, vcpu * VCPU_WORDS + 1, s);
    Atomics.notify(this.words, vcpu * VCPU_WORDS + 1);
  }

  /** Line level as last driven by the device model. */
  irqLevel(line: number): number { return Atomics.load(this.words, IRQ_BASE + line); }
  /** Rising edges seen on `line` so far. */
  irqEdges(line: number): number { return Atomics.load(this.words, IRQ_EDGES + line); }
  setIrqLevel(line: number, level: number): void {
    const old = Atomics.exchange(this.words, IRQ_BASE + line, level);
    if (old === 0 && level !== 0) Atomics.add(this.words, IRQ_EDGES + line, 1);
    Atomics.add(this.words, IRQ_GENERATION, 1);
    this.wake();
  }
  /** A rising and a falling edge at once. */
  pulseIrq(line: number): void {
    Atomics.store(this.words, IRQ_BASE + line, 0);
    Atomics.add(this.words, IRQ_EDGES + line, 1);
    Atomics.add(this.words, IRQ_GENERATION, 1);
    this.wake();
  }
  /** Counts up for every line change (edges included), so a pulse is never missed. */
  irqGeneration(): number { return Atomics.load(this.words, IRQ_GENERATION); }
  /**
   * irqGeneration as a plain read, for a poll on every dispatch of the soft CPU (V8 calls a
   * builtin for each Atomics.load there: 2% of the shell loop's time). It may lag; whoever polls
   * it also reads irqGeneration() at least once per run slice.
   */
  irqGenerationHint(): number { return this.words[IRQ_GENERATION]!; }

  /** The soft accelerator sleeps on this word while every CPU is halted. */
  get wakeIndex(): number { return WAKE; }
  pmTimerPort(): number { return Atomics.load(this.words, PM_TIMER_PORT); }
  setPmTimerPort(port: number): void { Atomics.store(this.words, PM_TIMER_PORT, port); }
  wake(): void { Atomics.add(this.words, WAKE, 1); Atomics.notify(this.words, WAKE); }

  /** Where VRAM is mapped as a linear framebuffer: guest-physical base (0: nowhere) and bytes. */
  vramBase(): number { return Atomics.load(this.words, VRAM_BASE) >>> 0; }
  vramSize(): number { return Atomics.load(this.words, VRAM_SIZE) >>> 0; }
  /** Changes whenever the VRAM mapping or its dirty tracking needs the CPU's attention. */
  vramGeneration(): number { return Atomics.load(this.words, VRAM_GENERATION); }
  /** Publishes a new mapping (base and size first, then the generation readers compare). */
  setVramMapping(base: number, size: number): void {
    Atomics.store(this.words, VRAM_BASE, base | 0);
    Atomics.store(this.words, VRAM_SIZE, size | 0);
    Atomics.add(this.words, VRAM_GENERATION, 1);
  }
  bumpVramGeneration(): void { Atomics.add(this.words, VRAM_GENERATION, 1); }
}

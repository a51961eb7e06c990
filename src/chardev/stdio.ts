// The console on the host's stdin/stdout. On a terminal: raw mode, and QEMU's escape keys
// (Ctrl-A X quits, Ctrl-A S saves a screenshot, Ctrl-A H helps, Ctrl-A Ctrl-A sends a literal
// Ctrl-A). Piped stdin is passed through unchanged, so scripts can drive the guest.

const CTRL_A = 0x01;

const ESCAPE_HELP = '\r\nC-a h    print this help\r\nC-a x    exit hvm\r\nC-a s    save the screen as hvm-screen-<n>.png\r\nC-a C-a  send C-a\r\n';

/** Options for the console. */
export interface StdioConsoleOptions {
  /** Called on Ctrl-A X. */
  onQuit: () => void;
  /** Called on Ctrl-A S (a screenshot); without it the key does nothing. */
  onScreenshot?: () => void;
  input?: NodeJS.ReadStream;
  output?: NodeJS.WriteStream;
}

/** The serial console on stdio. */
export class StdioConsole {
  private readonly input: NodeJS.ReadStream;
  private readonly output: NodeJS.WriteStream;
  private readonly raw: boolean;
  private escape = false;
  private receiver: ((bytes: Uint8Array) => void) | null = null;
  private readonly onData = (chunk: Buffer): void => this.fromHost(chunk);

  constructor(private readonly o: StdioConsoleOptions) {
    this.input = o.input ?? process.stdin;
    this.output = o.output ?? process.stdout;
    this.raw = this.input.isTTY === true;
    if (this.raw) this.input.setRawMode(true);
    this.input.on('data', this.onData);
    // A closed stdin leaves the guest running; nothing more will arrive. A closed stdout (hvm
    // piped into `head`) drops guest output rather than crashing the VM.
    this.input.on('error', () => undefined);
    this.output.on('error', () => undefined);
  }

  /** Guest output. */
  write(bytes: Uint8Array): void {
    this.output.write(bytes);
  }

  /** Registers where host input goes. */
  onInput(receiver: (bytes: Uint8Array) => void): void {
    this.receiver = receiver;
  }

  /** Restores the terminal and flushes output. */
  async close(): Promise<void> {
    this.input.off('data', this.onData);
    if (this.raw) this.input.setRawMode(false);
    this.input.pause();
    this.input.unref?.();
    await new Promise<void>((resolve) => this.output.write('', () => resolve()));
  }

  private fromHost(chunk: Buffer): void {
    if (!this.raw) { this.receiver?.(chunk); return; }
    const out: number[] = [];
    for (const b of chunk) {
      if (this.escape) {
        this.escape = false;
        const k = b | 0x20;
        if (k === 0x78) { this.o.onQuit(); return; }           // x
        if (k === 0x68) { this.output.write(ESCAPE_HELP); continue; } // h
        if (k === 0x73) { this.o.onScreenshot?.(); continue; }         // s
        if (b === CTRL_A) out.push(CTRL_A);
        continue;
      }
      if (b === CTRL_A) { this.escape = true; continue; }
      out.push(b);
    }
    if (out.length > 0) this.receiver?.(Uint8Array.from(out));
  }
}

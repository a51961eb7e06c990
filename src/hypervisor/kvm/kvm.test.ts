// Tiny real guests on /dev/kvm: port I/O out and in, string I/O, MMIO, the read-only ROM slot,
// state round trips, a triple fault, CPUID, an interrupt through the in-kernel PIC, and the cost
// of one exit. Skipped, with the reason, where KVM cannot be used.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExitReason, type VcpuExit } from '../exits.js';
import { realSegment } from '../vcpu.js';
import { CODE_ADDR, hardwareKvmSkip, kvmSkip, realModeState, tinyGuest } from './test-fixture.js';
import { KvmIrqLines } from './irq-lines.js';
import { formatRegisterDump } from './kvm-vcpu.js';
import { MSR_IA32_TSC } from './abi.js';

const skip = kvmSkip();

const END_PORT = 0xf4;
// out 0xf4, al — the end marker (HLT stays in the kernel with the in-kernel irqchip).
const END = [0xe6, END_PORT];

function expectIo(x: VcpuExit, port: number, size: number, dir: 'in' | 'out', count = 1): void {
  assert.equal(x.reason, ExitReason.Io, `expected an Io exit, got reason ${x.reason}: ${x.message}`);
  assert.equal(x.ioPort, port, 'port');
  assert.equal(x.ioSize, size, 'size');
  assert.equal(x.ioIn, dir === 'in', 'direction');
  assert.equal(x.ioCount, count, 'count');
}

function le(d: Uint8Array, n: number): number {
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + d[i]!;
  return v;
}

test('OUT to the serial port exits with port, size and data, then the end marker', { skip }, () => {
  const g = tinyGuest([
    0xba, 0xf8, 0x03, // mov dx, 0x3f8
    0xb0, 0x41, //       mov al, 'A'
    0xee, //             out dx, al
    ...END,
  ]);
  try {
    let x = g.vcpu.run();
    expectIo(x, 0x3f8, 1, 'out');
    assert.equal(x.ioData.length, 1);
    assert.equal(x.ioData[0], 0x41);
    x = g.vcpu.run();
    expectIo(x, END_PORT, 1, 'out');
    assert.equal(x.ioData[0], 0x41);
  } finally { g.close(); }
});

test('IN exits are completed with a value the guest then writes back out (16 and 32 bits)', { skip }, () => {
  const g = tinyGuest([
    0xba, 0x34, 0x12, // mov dx, 0x1234
    0xed, //             in ax, dx
    0xef, //             out dx, ax
    0x66, 0xed, //       in eax, dx
    0x66, 0xef, //       out dx, eax
    ...END,
  ]);
  try {
    let x = g.vcpu.run();
    expectIo(x, 0x1234, 2, 'in');
    g.vcpu.completeRead(x, 0xbeef);
    x = g.vcpu.run();
    expectIo(x, 0x1234, 2, 'out');
    assert.equal(le(x.ioData, 2), 0xbeef);
    x = g.vcpu.run();
    expectIo(x, 0x1234, 4, 'in');
    g.vcpu.completeRead(x, 0xdeadbeef);
    x = g.vcpu.run();
    expectIo(x, 0x1234, 4, 'out');
    assert.equal(le(x.ioData, 4), 0xdeadbeef);
    expectIo(g.vcpu.run(), END_PORT, 1, 'out');
  } finally { g.close(); }
});

test('REP OUTSB hands its bytes in string exits; REP INSB stores what the host fills in', { skip }, () => {
  const g = tinyGuest([
    0xbe, 0x00, 0x20, // mov si, 0x2000
    0xb9, 0x05, 0x00, // mov cx, 5
    0xba, 0xf8, 0x03, // mov dx, 0x3f8
    0xfc, //             cld
    0xf3, 0x6e, //       rep outsb
    0xbf, 0x00, 0x30, // mov di, 0x3000
    0xb9, 0x03, 0x00, // mov cx, 3
    0xf3, 0x6c, //       rep insb
    ...END,
  ]);
  try {
    g.ram.u8.set(new TextEncoder().encode('hello'), 0x2000);
    // VT-x hands all five bytes in one exit; PVM may split the string into several.
    let text = '';
    let x = g.vcpu.run();
    for (let n = 0; n < 5 && x.reason === ExitReason.Io && !x.ioIn && x.ioPort === 0x3f8; n++) {
      text += new TextDecoder().decode(x.ioData);
      x = g.vcpu.run();
    }
    assert.equal(text, 'hello');
    let filled = 0;
    for (let n = 0; n < 3 && filled < 3; n++) {
      assert.equal(x.reason, ExitReason.Io, x.message);
      assert.equal(x.ioIn, true);
      for (let i = 0; i < x.ioData.length; i++) x.ioData[i] = 7 + filled++;
      x = g.vcpu.run();
    }
    assert.equal(filled, 3);
    expectIo(x, END_PORT, 1, 'out');
    assert.deepEqual([...g.ram.u8.subarray(0x3000, 0x3003)], [7, 8, 9]);
  } finally { g.close(); }
});

test('accesses beyond RAM exit as MMIO; reads are completed with the host value', { skip }, () => {
  const g = tinyGuest([
    0xb8, 0xff, 0xff, //             mov ax, 0xffff
    0x8e, 0xd8, //                   mov ds, ax      ; ds base 0xffff0 (RAM is 1 MiB)
    0xc6, 0x06, 0x10, 0x00, 0x5a, // mov byte [0x10], 0x5a   ; gpa 0x100000
    0xa0, 0x20, 0x00, //             mov al, [0x20]           ; gpa 0x100010
    0xe6, 0x80, //                   out 0x80, al
    0x66, 0xa1, 0x20, 0x00, //       mov eax, [0x20]
    0x66, 0xe7, 0x80, //             out 0x80, eax
  ]);
  try {
    let x = g.vcpu.run();
    assert.equal(x.reason, ExitReason.Mmio, x.message);
    assert.equal(x.mmioAddr, 0x100000);
    assert.equal(x.mmioLen, 1);
    assert.equal(x.mmioWrite, true);
    assert.equal(x.mmioData[0], 0x5a);
    x = g.vcpu.run();
    assert.equal(x.reason, ExitReason.Mmio, x.message);
    assert.deepEqual([x.mmioAddr, x.mmioLen, x.mmioWrite], [0x100010, 1, false]);
    g.vcpu.completeRead(x, 0x77);
    x = g.vcpu.run();
    expectIo(x, 0x80, 1, 'out');
    assert.equal(x.ioData[0], 0x77);
    x = g.vcpu.run();
    assert.deepEqual([x.reason, x.mmioAddr, x.mmioLen, x.mmioWrite], [ExitReason.Mmio, 0x100010, 4, false]);
    g.vcpu.completeRead(x, 0x89abcdef);
    x = g.vcpu.run();
    expectIo(x, 0x80, 4, 'out');
    assert.equal(le(x.ioData, 4), 0x89abcdef);
  } finally { g.close(); }
});

test('the ROM slot below 4 GiB reads as ROM and, where KVM can, writes to it exit as MMIO', { skip }, () => {
  const g = tinyGuest([
    0xc6, 0x05, 0x00, 0x00, 0xff, 0xff, 0x5a, // mov byte [0xffff0000], 0x5a
    0xa0, 0x10, 0x00, 0xff, 0xff, //             mov al, [0xffff0010]
    0xe6, 0x80, //                               out 0x80, al
  ], { romBytes: 64 * 1024, mode: 'flat32' });
  try {
    g.ram.rom()[0x10] = 0xa5;
    let x = g.vcpu.run();
    if (g.vm.caps.readonlyMem) {
      assert.equal(x.reason, ExitReason.Mmio, x.message);
      assert.deepEqual([x.mmioAddr, x.mmioLen, x.mmioWrite, x.mmioData[0]], [0xffff0000, 1, true, 0x5a]);
      assert.equal(g.ram.rom()[0], 0, 'the ROM byte is unchanged');
      x = g.vcpu.run();
    }
    expectIo(x, 0x80, 1, 'out');
    assert.equal(x.ioData[0], 0xa5);
  } finally { g.close(); }
});

test('getState/setState round-trip every field; a pending IN lands before getState reads', { skip }, () => {
  const g = tinyGuest([
    0xe4, 0x60, // in al, 0x60
    ...END,
  ]);
  try {
    const s = realModeState(CODE_ADDR);
    Object.assign(s, {
      rax: 0x1111n, rbx: 0x2222n, rcx: 0x3333n, rdx: 0x4444n, rsi: 0x5555n, rdi: 0x6666n, rbp: 0x7777n, rsp: 0x7ff0n,
      r8: 8n, r9: 9n, r10: 10n, r11: 11n, r12: 12n, r13: 13n, r14: 14n, r15: 0xfedcba9876543210n, rflags: 0x202n,
    });
    s.ds = realSegment(0x1234);
    s.es = realSegment(0x2345);
    s.gdt = { base: 0x5000, limit: 0x27 };
    s.idt = { base: 0, limit: 0x3ff };
    g.vcpu.setState(s);
    const got = g.vcpu.getState();
    // KVM fixes up a few architecturally ignored bits (accessed type bit); compare what must match.
    for (const k of ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r15', 'rip', 'rflags', 'cr0', 'cr3', 'cr4', 'efer'] as const) {
      assert.equal(got[k], s[k], k);
    }
    for (const k of ['cs', 'ds', 'es', 'ss'] as const) {
      assert.equal(got[k].selector, s[k].selector, `${k}.selector`);
      assert.equal(got[k].base, s[k].base, `${k}.base`);
      assert.equal(got[k].limit, s[k].limit, `${k}.limit`);
    }
    assert.deepEqual(got.gdt, s.gdt);
    assert.deepEqual(got.idt, s.idt);
    assert.equal(got.apicBase & ~0xfffn, 0xfee00000n);
    // Setting what we got back changes nothing.
    g.vcpu.setState(got);
    assert.deepEqual(g.vcpu.getState(), got);

    const x = g.vcpu.run();
    expectIo(x, 0x60, 1, 'in');
    g.vcpu.completeRead(x, 0xab);
    const after = g.vcpu.getState();
    assert.equal(after.rax & 0xffn, 0xabn, 'IN result visible before the next run');
    assert.equal(after.rip, BigInt(CODE_ADDR + 2));
    expectIo(g.vcpu.run(), END_PORT, 1, 'out');
    assert.match(formatRegisterDump(after), /RIP=0000000000001002/);
  } finally { g.close(); }
});

test('a triple fault (IDT limit 0, then int3) exits as Shutdown', { skip: hardwareKvmSkip('a triple fault exits as KVM_EXIT_SHUTDOWN') }, () => {
  const g = tinyGuest([
    0x0f, 0x01, 0x1e, 0x00, 0x20, // lidt [0x2000]   ; limit 0, base 0
    0xcc, //                         int3
  ]);
  try {
    const x = g.vcpu.run();
    assert.equal(x.reason, ExitReason.Shutdown, x.message);
  } finally { g.close(); }
});

test('CPUID shows the hypervisor bit and hides MONITOR and VMX', { skip }, () => {
  const g = tinyGuest([
    0x66, 0xb8, 0x01, 0x00, 0x00, 0x00, // mov eax, 1
    0x0f, 0xa2, //                         cpuid
    0x66, 0x89, 0xc8, //                   mov eax, ecx
    0x66, 0xe7, 0x80, //                   out 0x80, eax
  ]);
  try {
    const x = g.vcpu.run();
    expectIo(x, 0x80, 4, 'out');
    const ecx = le(x.ioData, 4);
    assert.ok(ecx & (2 ** 31), `hypervisor bit set (ecx=0x${ecx.toString(16)})`);
    assert.equal(ecx & (1 << 3), 0, 'MONITOR hidden');
    assert.equal(ecx & (1 << 5), 0, 'VMX hidden');
  } finally { g.close(); }
});

test('an interrupt line raised through KVM_IRQ_LINE reaches the guest via the in-kernel PIC', { skip }, () => {
  const handler = 0x1100;
  const g = tinyGuest([
    0xb0, 0x11, 0xe6, 0x20, // ICW1: edge, cascade, ICW4 needed
    0xb0, 0x08, 0xe6, 0x21, // ICW2: vectors 8-15
    0xb0, 0x04, 0xe6, 0x21, // ICW3: slave on IRQ2
    0xb0, 0x01, 0xe6, 0x21, // ICW4: 8086 mode
    0xb0, 0xef, 0xe6, 0x21, // OCW1: only IRQ4 unmasked
    0xe6, 0x80, //             out 0x80, al — "PIC ready"
    0xfb, //                   sti
    0xeb, 0xfe, //             jmp $
  ]);
  try {
    // IVT entry for vector 0x0c (IRQ4): 0000:handler, which reports through port 0xf4.
    new DataView(g.ram.u8.buffer, g.ram.u8.byteOffset).setUint32(0x0c * 4, handler, true);
    g.ram.u8.set([0xb0, 0x99, ...END], handler);
    const lines = new KvmIrqLines({ vmFd: g.vm.vmFd });
    assert.throws(() => lines.setIrqLine(24, true), /out of range/);
    expectIo(g.vcpu.run(), 0x80, 1, 'out');
    lines.setIrqLine(4, true);
    const x = g.vcpu.run();
    expectIo(x, END_PORT, 1, 'out');
    assert.equal(x.ioData[0], 0x99);
    lines.setIrqLine(4, false);
  } finally { g.close(); }
});

test('a kick before KVM_RUN makes the next run return Interrupted; the one after runs the guest', { skip }, async () => {
  const { kickVcpu, kickCount } = await import('./kick.js');
  const g = tinyGuest([...END]);
  try {
    assert.equal(kickVcpu(g.vcpu.kickSlot), true);
    assert.equal(kickCount(g.vcpu.kickSlot), 1);
    assert.equal(g.vcpu.run().reason, ExitReason.Interrupted);
    expectIo(g.vcpu.run(), END_PORT, 1, 'out');
    g.vm.kick(0);
    assert.equal(g.vcpu.run().reason, ExitReason.Interrupted);
  } finally { g.close(); }
});

test('MSRs: the TSC reads back what was written and then advances', { skip: hardwareKvmSkip('the host sets the guest TSC') }, () => {
  const g = tinyGuest([...END]);
  try {
    g.vcpu.setMsr(MSR_IA32_TSC, 1_000_000n);
    const t = g.vcpu.getMsr(MSR_IA32_TSC);
    assert.ok(t >= 1_000_000n && t < 1_000_000_000_000n, `TSC ${t}`);
    assert.throws(() => g.vcpu.getMsr(0xdead0000), /KVM_GET_MSRS/);
  } finally { g.close(); }
});

test('cost of one port-read exit handled on this thread (tight IN loop)', { skip }, (t) => {
  const g = tinyGuest([
    0xba, 0x80, 0x00, // mov dx, 0x80
    0xec, //             in al, dx
    0xeb, 0xfd, //       jmp back to the in
  ]);
  try {
    const v = g.vcpu;
    const loop = (n: number): void => {
      for (let i = 0; i < n; i++) {
        const x = v.run();
        if (x.reason !== ExitReason.Io) throw new Error(`unexpected exit ${x.reason}: ${x.message}`);
        v.completeRead(x, i & 0xff);
      }
    };
    loop(2000);
    const n = 50_000;
    const t0 = process.hrtime.bigint();
    loop(n);
    const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
    t.diagnostic(`KVM port-read exit: ${us.toFixed(2)} µs per exit (${n} exits)`);
    assert.ok(us > 0 && us < 1000);
    assert.equal(g.vcpu.getState().rax & 0xffn, BigInt((n - 1) & 0xff), 'the last IN value reached AL');
  } finally { g.close(); }
});

// One factory per device model: turns a machine-description entry and the host services into
// a device and its port regions (in the entry's `ports` order).

import type { IrqLine } from '../devices/api.js';
import { FwCfg } from '../devices/fw-cfg.js';
import { I440fx } from '../devices/pci/i440fx.js';
import { PciHost } from '../devices/pci/pci-host.js';
import { Piix3, PIRQ_APIC_BASE } from '../devices/pci/piix3.js';
import { Piix4Pm } from '../devices/pci/piix4-pm.js';
import { PiixIde } from '../devices/ide/piix-ide.js';
import { populateFwCfg } from '../firmware/fw-cfg-files.js';
import { E1000 } from '../devices/net/e1000.js';
import { Rtl8139 } from '../devices/net/rtl8139.js';
import { parseMac } from '../net/ethernet.js';
import { I8042 } from '../devices/i8042.js';
import { IsaDebugExit } from '../devices/isa-debug-exit.js';
import { IsaDebugcon } from '../devices/isa-debugcon.js';
import { Mc146818Rtc } from '../devices/mc146818-rtc.js';
import { PciStub } from '../devices/pci-stub.js';
import { Port80 } from '../devices/port80.js';
import { Uart16550 } from '../devices/uart16550.js';
import { cirrusVgaFactory, stdVgaFactory } from './display.js';
import type { BuiltDevice, FactoryContext } from './build.js';
import type { DeviceModel } from './description.js';

/** The entry's n-th interrupt line; a missing one is a machine-description error. */
function irqAt(ctx: FactoryContext, n: number): IrqLine {
  const line = ctx.irqs[n];
  if (line === undefined) throw new Error(`${ctx.entry.id}: ${ctx.entry.device} needs ${n + 1} irq line(s)`);
  return line;
}

/** Device constructors by model name. */
export const deviceFactories: Record<DeviceModel, (ctx: FactoryContext) => BuiltDevice> = {
  'uart16550': (ctx) => {
    const d = new Uart16550(ctx.entry.id, irqAt(ctx, 0), ctx.chardev);
    return { device: d, regions: [d.region] };
  },
  'mc146818-rtc': (ctx) => {
    const d = new Mc146818Rtc(ctx.entry.id, irqAt(ctx, 0), ctx.clock, ctx.timers,
      { ramBelow4g: ctx.layout.lowRamBytes, ramAbove4g: ctx.layout.highRamBytes });
    return { device: d, regions: [d.region] };
  },
  'i8042': (ctx) => {
    const d = new I8042(ctx.entry.id, irqAt(ctx, 0), irqAt(ctx, 1), ctx.system);
    return { device: d, regions: [d.dataRegion, d.commandRegion] };
  },
  'port80': (ctx) => {
    const d = new Port80(ctx.entry.id);
    return { device: d, regions: [d.region] };
  },
  'isa-debug-exit': (ctx) => {
    const d = new IsaDebugExit(ctx.entry.id, ctx.system);
    return { device: d, regions: [d.region] };
  },
  'isa-debugcon': (ctx) => {
    const d = new IsaDebugcon(ctx.entry.id, ctx.chardev);
    return { device: d, regions: [d.region] };
  },
  'pci-stub': (ctx) => {
    const d = new PciStub(ctx.entry.id);
    return { device: d, regions: [d.region] };
  },
  // The host bridge: its entry's ports are CONFIG_ADDRESS and CONFIG_DATA.
  'i440fx': (ctx) => {
    const host = new PciHost(`${ctx.entry.id}.config`, ctx.pio, ctx.mmio);
    const d = new I440fx(ctx.entry.id);
    return { device: d, regions: [host.addressRegion, host.dataRegion], pciFunction: d, pciHost: host };
  },
  'piix3': (ctx) => {
    const host = needPciHost(ctx);
    const apic = [0, 1, 2, 3].map((n) => ctx.irq(PIRQ_APIC_BASE + n));
    // The entry's irqs are the ISA IRQs PIRQA#-D# are routed to from reset.
    const d = new Piix3(ctx.entry.id, ctx.irq, apic, ctx.system, ctx.entry.irqs ?? []);
    host.setIrqRouter(d);
    host.setResetControl(d.resetControlRegion);
    return { device: d, regions: [], pciFunction: d };
  },
  'piix4-pm': (ctx) => {
    const base = ctx.entry.pci?.ioBase;
    if (base === undefined) throw new Error(`${ctx.entry.id}: piix4-pm needs pci.ioBase`);
    const d = new Piix4Pm(ctx.entry.id, irqAt(ctx, 0), ctx.system, ctx.clock, ctx.timers, base);
    return { device: d, regions: [], pciFunction: d };
  },
  // Ports: primary command block, primary control, secondary command block, secondary control.
  'piix-ide': (ctx) => {
    const d = new PiixIde(ctx.entry.id, [irqAt(ctx, 0), irqAt(ctx, 1)], ctx.mem, ctx.drives ?? []);
    return { device: d, regions: [...d.regions], pciFunction: d };
  },
  // Network cards: PCI functions whose windows are all BARs; the backend comes from the host.
  'e1000': (ctx) => {
    const d = new E1000(ctx.entry.id, ctx.intx, ctx.mem, macOf(ctx), ctx.ethernet?.(ctx.entry.id) ?? null, ctx.timers);
    return { device: d, regions: [], pciFunction: d };
  },
  'rtl8139': (ctx) => {
    const d = new Rtl8139(ctx.entry.id, ctx.intx, ctx.mem, macOf(ctx), ctx.ethernet?.(ctx.entry.id) ?? null, ctx.entry.revision);
    return { device: d, regions: [], pciFunction: d };
  },
  // Ports: the VGA block 0x3B0-0x3DF and the DISPI pair 0x1CE; it maps the 0xA0000 window itself.
  'std-vga': (ctx) => stdVgaFactory(ctx),
  // Ports: the VGA block 0x3B0-0x3DF; it maps the 0xA0000 window itself.
  'cirrus-vga': (ctx) => cirrusVgaFactory(ctx),
  // Ports: the selector/data pair (0x510) and the DMA address (0x514).
  'fw-cfg': (ctx) => {
    const d = new FwCfg(ctx.entry.id, ctx.mem);
    populateFwCfg(d, { machine: ctx.machine, layout: ctx.layout, cpus: ctx.cpus });
    return { device: d, regions: [d.selectorRegion, d.dmaRegion] };
  },
};

function needPciHost(ctx: FactoryContext): PciHost {
  if (ctx.pciHost === null) throw new Error(`${ctx.entry.id}: ${ctx.entry.device} needs a PCI host before it in the machine`);
  return ctx.pciHost;
}

/** A network card entry's MAC (QEMU's default when the entry names none). */
function macOf(ctx: FactoryContext): Uint8Array {
  const mac = parseMac(ctx.entry.mac ?? '52:54:00:12:34:56');
  if (mac === null) throw new Error(`${ctx.entry.id}: bad MAC address ${ctx.entry.mac ?? ''}`);
  return mac;
}

// One factory per device model: turns a machine-description entry and the host services into
// a device and its port regions (in the entry's `ports` order).

import type { IrqLine } from '../devices/api.js';
import { I8042 } from '../devices/i8042.js';
import { IsaDebugExit } from '../devices/isa-debug-exit.js';
import { Mc146818Rtc } from '../devices/mc146818-rtc.js';
import { PciStub } from '../devices/pci-stub.js';
import { Port80 } from '../devices/port80.js';
import { Uart16550 } from '../devices/uart16550.js';
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
  'pci-stub': (ctx) => {
    const d = new PciStub(ctx.entry.id);
    return { device: d, regions: [d.region] };
  },
};

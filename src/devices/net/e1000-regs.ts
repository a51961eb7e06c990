// The Intel 82540EM register file (PCI/PCI-X Family of Gigabit Ethernet Controllers Software
// Developer's Manual, 8254x, §13 "Register Descriptions"), as a table: one entry per register
// the Linux e1000 driver touches, with its reset value, writable bits and read side effects.
// Offsets are byte offsets in BAR0; the names are the manual's.

/** Device control (§13.4.1). */
export const CTRL = 0x0000;
export const CTRL_FD = 1 << 0;        // full duplex
export const CTRL_LRST = 1 << 3;      // link reset
export const CTRL_SLU = 1 << 6;       // set link up
export const CTRL_RST = 1 << 26;      // device reset, self-clearing
export const CTRL_PHY_RST = 1 << 31;  // PHY reset
/** Device status (§13.4.2). */
export const STATUS = 0x0008;
export const STATUS_FD = 1 << 0;
export const STATUS_LU = 1 << 1;
export const STATUS_SPEED_1000 = 2 << 6;
/** EEPROM/flash control (§13.4.3): a Microwire EEPROM bit-banged through SK/CS/DI/DO. */
export const EECD = 0x0010;
export const EECD_SK = 1 << 0;
export const EECD_CS = 1 << 1;
export const EECD_DI = 1 << 2;
export const EECD_DO = 1 << 3;
export const EECD_REQ = 1 << 6;
export const EECD_GNT = 1 << 7;
export const EECD_PRES = 1 << 8;
/** EEPROM read (§13.4.4): START bit 0, DONE bit 4, address 15:8, data 31:16. */
export const EERD = 0x0014;
export const EERD_START = 1 << 0;
export const EERD_DONE = 1 << 4;
export const CTRL_EXT = 0x0018;
/** MDI control (§13.4.5): data 15:0, register 20:16, PHY address 25:21, op 27:26. */
export const MDIC = 0x0020;
export const MDIC_OP_WRITE = 1 << 26;
export const MDIC_OP_READ = 2 << 26;
export const MDIC_READY = 1 << 28;
export const MDIC_INT = 1 << 29;
export const MDIC_ERROR = 1 << 30;
export const FCAL = 0x0028;
export const FCAH = 0x002c;
export const FCT = 0x0030;
export const VET = 0x0038;
/** Interrupt cause read (§13.4.17): reading clears it. */
export const ICR = 0x00c0;
export const ICR_TXDW = 1 << 0;    // transmit descriptor written back
export const ICR_TXQE = 1 << 1;    // transmit queue empty
export const ICR_LSC = 1 << 2;     // link status change
export const ICR_RXDMT0 = 1 << 4;  // receive descriptors below the minimum threshold
export const ICR_RXO = 1 << 6;     // receiver overrun (frame dropped for lack of descriptors)
export const ICR_RXT0 = 1 << 7;    // receiver timer (a frame was received)
export const ICR_MDAC = 1 << 9;    // MDI access complete
/** Interrupt throttling (§13.4.18). */
export const ITR = 0x00c4;
export const ICS = 0x00c8;
export const IMS = 0x00d0;
export const IMC = 0x00d8;
/** Receive control (§13.4.22). */
export const RCTL = 0x0100;
export const RCTL_EN = 1 << 1;
export const RCTL_SBP = 1 << 2;
export const RCTL_UPE = 1 << 3;    // unicast promiscuous
export const RCTL_MPE = 1 << 4;    // multicast promiscuous
export const RCTL_LPE = 1 << 5;    // long packets
export const RCTL_RDMTS_SHIFT = 8;
export const RCTL_MO_SHIFT = 12;
export const RCTL_BAM = 1 << 15;   // accept broadcast
export const RCTL_BSIZE_SHIFT = 16;
export const RCTL_BSEX = 1 << 25;
export const RCTL_SECRC = 1 << 26; // strip the CRC
export const FCTTV = 0x0170;
export const TXCW = 0x0178;
export const RXCW = 0x0180;
/** Transmit control (§13.4.33). */
export const TCTL = 0x0400;
export const TCTL_EN = 1 << 1;
export const TIPG = 0x0410;
export const LEDCTL = 0x0e00;
export const PBA = 0x1000;
export const RDBAL = 0x2800;
export const RDBAH = 0x2804;
export const RDLEN = 0x2808;
export const RDH = 0x2810;
export const RDT = 0x2818;
export const RDTR = 0x2820;
export const RXDCTL = 0x2828;
export const RADV = 0x282c;
export const RSRPD = 0x2c00;
export const TDBAL = 0x3800;
export const TDBAH = 0x3804;
export const TDLEN = 0x3808;
export const TDH = 0x3810;
export const TDT = 0x3818;
export const TIDV = 0x3820;
export const TXDCTL = 0x3828;
export const TADV = 0x382c;
export const RXCSUM = 0x5000;
/** Multicast table array: 128 words (§13.5.1). */
export const MTA = 0x5200;
export const MTA_WORDS = 128;
/** Receive address low/high: 16 pairs; RAH bit 31 is Address Valid. */
export const RA = 0x5400;
export const RA_ENTRIES = 16;
export const RAH_AV = 1 << 31;
export const VFTA = 0x5600;
export const WUC = 0x5800;
export const WUFC = 0x5808;
export const MANC = 0x5820;

/** Statistics registers (§13.7): counters that clear when read. */
export const MPC = 0x4010;   // missed packets
export const GPRC = 0x4074;  // good packets received
export const GPTC = 0x4080;  // good packets transmitted
export const GORCL = 0x4088;
export const GOTCL = 0x4090;
export const RNBC = 0x40a0;  // receive no buffers
export const TPR = 0x40d0;   // total packets received
export const TPT = 0x40d4;   // total packets transmitted
export const STATS_FIRST = 0x4000;
export const STATS_LAST = 0x40fc;

/** One register: reset value and the bits a guest write changes. */
export interface RegDef {
  readonly name: string;
  readonly offset: number;
  readonly reset: number;
  /** Bits a plain write stores; registers with an `E1000` handler ignore it. */
  readonly writable: number;
  /** Reading returns the value and clears it (ICR, statistics). */
  readonly readClear?: boolean;
}

const ALL = 0xffffffff;
const plain = (name: string, offset: number, reset = 0, writable = ALL): RegDef => ({ name, offset, reset, writable });

/** The register file, the documentation of what the model implements. */
export const E1000_REGS: readonly RegDef[] = [
  plain('CTRL', CTRL, CTRL_FD | CTRL_SLU | (2 << 8)),
  plain('STATUS', STATUS, STATUS_FD | STATUS_LU | STATUS_SPEED_1000, 0),
  plain('EECD', EECD, EECD_PRES, EECD_SK | EECD_CS | EECD_DI | EECD_REQ),
  plain('EERD', EERD, 0, 0xff01),
  plain('CTRL_EXT', CTRL_EXT),
  plain('MDIC', MDIC, MDIC_READY),
  plain('FCAL', FCAL), plain('FCAH', FCAH, 0, 0xffff), plain('FCT', FCT, 0, 0xffff), plain('VET', VET, 0x8100, 0xffff),
  { name: 'ICR', offset: ICR, reset: 0, writable: 0, readClear: true },
  plain('ITR', ITR, 0, 0xffff),
  plain('ICS', ICS, 0, 0),
  plain('IMS', IMS, 0, 0x1ffff),
  plain('IMC', IMC, 0, 0),
  plain('RCTL', RCTL, 0, 0x07ffb3fe),
  plain('FCTTV', FCTTV, 0, 0xffff), plain('TXCW', TXCW), plain('RXCW', RXCW, 0, 0),
  plain('TCTL', TCTL, 0x0f << 4 | 0x40 << 12, 0x03fffffe),
  plain('TIPG', TIPG), plain('LEDCTL', LEDCTL, 0x07068302), plain('PBA', PBA, 0x00100030, 0xffff),
  plain('RDBAL', RDBAL, 0, 0xfffffff0), plain('RDBAH', RDBAH), plain('RDLEN', RDLEN, 0, 0xfff80),
  plain('RDH', RDH, 0, 0xffff), plain('RDT', RDT, 0, 0xffff), plain('RDTR', RDTR, 0, 0x8000ffff),
  plain('RXDCTL', RXDCTL, 0x00010000), plain('RADV', RADV, 0, 0xffff), plain('RSRPD', RSRPD, 0, 0xfff),
  plain('TDBAL', TDBAL, 0, 0xfffffff0), plain('TDBAH', TDBAH), plain('TDLEN', TDLEN, 0, 0xfff80),
  plain('TDH', TDH, 0, 0xffff), plain('TDT', TDT, 0, 0xffff), plain('TIDV', TIDV, 0, 0xffff),
  plain('TXDCTL', TXDCTL, 0x00010000), plain('TADV', TADV, 0, 0xffff),
  plain('RXCSUM', RXCSUM, 0x300, 0x7ff),
  plain('WUC', WUC), plain('WUFC', WUFC), plain('MANC', MANC),
  ...Array.from({ length: MTA_WORDS }, (_, i) => plain(`MTA${i}`, MTA + 4 * i)),
  ...Array.from({ length: 2 * RA_ENTRIES }, (_, i) => plain(i % 2 === 0 ? `RAL${i >> 1}` : `RAH${i >> 1}`, RA + 4 * i, 0, i % 2 === 0 ? ALL : 0x8003ffff)),
  ...Array.from({ length: 128 }, (_, i) => plain(`VFTA${i}`, VFTA + 4 * i)),
  ...Array.from({ length: (STATS_LAST - STATS_FIRST) / 4 + 1 }, (_, i): RegDef =>
    ({ name: `STAT${(STATS_FIRST + 4 * i).toString(16)}`, offset: STATS_FIRST + 4 * i, reset: 0, writable: 0, readClear: true })),
];

/** The M88E1011 PHY behind MDIC (PHY address 1): its registers and reset values. */
export const PHY_CTRL = 0;
export const PHY_CTRL_RESET = 1 << 15;
export const PHY_CTRL_RESTART_AN = 1 << 9;
export const PHY_STATUS = 1;
export const PHY_STATUS_LINK = 1 << 2;
export const PHY_STATUS_AN_COMPLETE = 1 << 5;
export const PHY_ID1 = 2;
export const PHY_ID2 = 3;
/** Linux's M88E1011_I_PHY_ID is 0x01410C20: ID1 0x0141, ID2 0x0C2x. */
export const M88E1011_ID1 = 0x0141;
export const M88E1011_ID2 = 0x0c20;
export const PHY_ADDR = 1;
/** PHY register reset values by register number (the rest read 0). */
export const PHY_RESET: ReadonlyMap<number, number> = new Map([
  [PHY_CTRL, 0x1140],
  [PHY_STATUS, 0x796d],         // 100/10 FD/HD, ext status, AN complete, link up, ext caps
  [PHY_ID1, M88E1011_ID1],
  [PHY_ID2, M88E1011_ID2],
  [4, 0x0de1],                  // autonegotiation advertisement
  [5, 0x45e1],                  // link partner ability
  [6, 0x0001],                  // autonegotiation expansion
  [9, 0x0e00],                  // 1000BASE-T control
  [10, 0x3c00],                 // 1000BASE-T status: partner 1000 FD/HD, local/remote OK
  [15, 0x3000],                 // extended status
  [0x10, 0x0360],               // M88 PHY specific control
  [0x11, 0xac00],               // M88 PHY specific status: 1000 Mb/s, FD, resolved, link
  [0x14, 0x0d60],               // M88 extended PHY specific control
]);
/** PHY registers a guest write changes. */
export const PHY_WRITABLE: ReadonlySet<number> = new Set([PHY_CTRL, 4, 9, 0x10, 0x14, 0x1d, 0x1e, 0x16]);

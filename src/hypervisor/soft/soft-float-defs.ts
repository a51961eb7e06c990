// The encodings soft float shares with the x87 and SSE units: exception flags (the same bits in
// the x87 status word and MXCSR), rounding control, operand formats and classes, compare results.

/** Exception flags: the same bit positions in the x87 status word and in MXCSR. */
export const FE_IE = 0x01, FE_DE = 0x02, FE_ZE = 0x04, FE_OE = 0x08, FE_UE = 0x10, FE_PE = 0x20;
/** The pre-computation exceptions: an unmasked one stops the instruction before any result. */
export const FE_PRE = FE_IE | FE_DE | FE_ZE;

/** Rounding control (x87 CW bits 11:10 and MXCSR bits 14:13 use the same encoding). */
export const RC_NEAREST = 0, RC_DOWN = 1, RC_UP = 2, RC_ZERO = 3;

/** Operand formats. */
export const FMT_F32 = 0, FMT_F64 = 1, FMT_F80 = 2;

/** Operand classes after unpacking. */
export const CLS_ZERO = 0, CLS_NORMAL = 1, CLS_INF = 2, CLS_QNAN = 3, CLS_SNAN = 4;
/** x87 unsupported encodings: unnormals, pseudo-infinities and pseudo-NaNs. */
export const CLS_UNSUPPORTED = 5;

/** Compare results. */
export const CMP_LT = 0, CMP_EQ = 1, CMP_GT = 2, CMP_UN = 3;

/** NaN rules: x87 picks the QNaN or the larger significand; SSE picks the first source. */
export const MODE_X87 = 0, MODE_SSE = 1;

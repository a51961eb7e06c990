// What the display device hands the host on each refresh (DISPLAY-SPEC.md, "Display frames"):
// the screen's pixels, the rectangles that changed since the previous refresh, and in VGA
// text modes the screen as text.

/** One refresh of the guest's screen. */
export interface DisplayFrame {
  /** Pixels across; 0 when the machine has no display (or the display is off). */
  width: number;
  /** Pixels down; 0 when the machine has no display. */
  height: number;
  /** width*height pixels, each 0x00RRGGBB (bytes B,G,R,0 in memory), row after row. */
  pixels: Uint32Array;
  /** x,y,w,h quadruples that changed since the previous refresh (everything on a full refresh or a size change). */
  rects: number[];
  /** In a VGA text mode: the screen as lines (CP437 mapped to Unicode, trailing spaces trimmed, joined with '\n'); null in graphics modes. */
  text: string | null;
}

/** The frame of a machine without a display. */
export function emptyFrame(): DisplayFrame {
  return { width: 0, height: 0, pixels: new Uint32Array(0), rects: [], text: null };
}

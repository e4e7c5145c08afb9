/**
 * A horizontal bar chart in plain text, for "how many bits does the best node share with the
 * target" per hop: the picture of a lookup converging.
 */
export interface Bar {
  label: string;
  value: number;
  note?: string;
}

/**
 * Bars scaled to `max` (default: the largest value) over `width` characters. `unit` follows each
 * value ("9 bits"): a bare number beside a note about peers reads as a count of peers.
 */
export function barChart(bars: readonly Bar[], options: { width?: number; max?: number; unit?: string } = {}): string[] {
  const width = options.width ?? 40;
  const max = Math.max(1, options.max ?? Math.max(...bars.map((b) => b.value)));
  const labelWidth = Math.max(...bars.map((b) => b.label.length));
  return bars.map((bar) => {
    const filled = Math.round((Math.max(0, bar.value) / max) * width);
    const row = `${bar.label.padEnd(labelWidth)} │${'█'.repeat(filled)}${' '.repeat(width - filled)}│ ${bar.value}${options.unit !== undefined ? ` ${options.unit}` : ''}`;
    return bar.note === undefined ? row : `${row}  ${bar.note}`;
  });
}

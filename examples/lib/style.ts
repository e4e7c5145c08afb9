/**
 * Colour for a terminal, nothing for a pipe: escape codes only when the stream is a TTY, NO_COLOR
 * is not set (https://no-color.org) and TERM is not "dumb".
 */
export type Colour = 'bold' | 'dim' | 'green' | 'yellow' | 'red' | 'cyan' | 'magenta';

const CODES: Readonly<Record<Colour, readonly [number, number]>> = {
  bold: [1, 22], dim: [2, 22], green: [32, 39], yellow: [33, 39], red: [31, 39], cyan: [36, 39], magenta: [35, 39],
};

export interface Style {
  readonly enabled: boolean;
  paint(colour: Colour, text: string): string;
}

export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Style {
  const enabled = stream.isTTY === true && !('NO_COLOR' in env) && env.TERM !== 'dumb';
  return {
    enabled,
    paint(colour, text) {
      if (!enabled) return text;
      const [on, off] = CODES[colour];
      return `\x1b[${on}m${text}\x1b[${off}m`;
    },
  };
}

/**
 * Lines of text from a stream, as they arrive (a list piped in is read while the first lookups
 * already run). A line longer than `maxLength` is not kept whole: it is reported cut, so that a
 * stream without newlines cannot fill memory.
 */
import type { Readable } from 'node:stream';

export interface Line {
  /** The line without its newline (and without a trailing \r). */
  text: string;
  /** 1-based. */
  number: number;
  /** True when the line was longer than maxLength and `text` holds only its start. */
  cut: boolean;
}

/** Yield each line of `input`; a destroyed stream (Ctrl+C) ends the iteration. */
export async function* readLines(input: Readable, maxLength = 4_096): AsyncGenerator<Line> {
  let pending = '';
  let overflow = false;
  let number = 0;
  input.setEncoding('utf8');
  for await (const chunk of input as AsyncIterable<string>) {
    let start = 0;
    for (let end = chunk.indexOf('\n'); end !== -1; end = chunk.indexOf('\n', start)) {
      const text = overflow ? pending : pending + chunk.slice(start, end);
      yield { text: text.slice(0, maxLength).replace(/\r$/, ''), number: ++number, cut: overflow || text.length > maxLength };
      pending = '';
      overflow = false;
      start = end + 1;
    }
    if (!overflow) pending += chunk.slice(start);
    if (pending.length > maxLength) { pending = pending.slice(0, maxLength); overflow = true; }
  }
  if (pending !== '' || overflow) yield { text: pending.replace(/\r$/, ''), number: ++number, cut: overflow };
}

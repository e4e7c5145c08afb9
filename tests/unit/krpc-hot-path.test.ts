/**
 * What makes the KRPC packet path cheap, checked for what it must not change: errors about packets
 * carry no stack trace (and leave stack traces elsewhere alone).
 */
import { describe, expect, test } from 'vitest';
import { KrpcError, decodeMessage, parseMessage } from '../../src/krpc.js';

function bytes(latin1: string): Uint8Array {
  return new Uint8Array(Buffer.from(latin1, 'latin1'));
}

describe('errors about packets', () => {
  const garbage = ['d1:t2:ab1:y1:q1:q4:pingXXXX', 'd1:t2:ab1:y1:q1:q4:ping1:ad2:id3:abcee', 'i42e', 'd1:t0:e'];

  test.each(garbage)('%s: a typed error with no stack frames, and stack traces elsewhere unchanged', (packet) => {
    const limit = Error.stackTraceLimit;
    const result = decodeMessage(bytes(packet));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toBeInstanceOf(KrpcError);
    expect(result.error.stack).not.toMatch(/\n\s+at /);
    expect(Error.stackTraceLimit).toBe(limit);
    expect(new Error('elsewhere').stack).toMatch(/\n\s+at /);
  });

  test('parseMessage too, and the limit is restored after a valid message', () => {
    const limit = Error.stackTraceLimit;
    const result = parseMessage(42);
    expect(result.ok || result.error.stack).not.toMatch(/\n\s+at /);
    expect(decodeMessage(bytes('d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe')).ok).toBe(true);
    expect(Error.stackTraceLimit).toBe(limit);
  });
});

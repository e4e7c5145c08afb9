/**
 * Field tables: the machinery krpc.ts uses to declare each KRPC message body as DATA, a table with
 * one row per field (the wire type the field must have, its length rule, whether it is required,
 * and how it converts to and from its typed form), and to check, read and write dictionaries
 * against those tables. Nothing here knows a KRPC field; krpc.ts holds the tables themselves.
 *
 * One walker (`readTable`) checks a decoded dictionary against a table and builds the typed value,
 * or names the first field at fault; another (`writeTable`) writes typed values in wire form.
 * Supporting a new BEP field means adding a row, not another `if`.
 */
import { encode, type BencodeDict, type BencodeValue } from './bencode.js';
import type { BencodeWriter } from './bencode-writer.js';

// ---------------------------------------------------------------------------------------------
// How a table describes a field.
// ---------------------------------------------------------------------------------------------

/** How long a byte string (or each byte string of a list) may be. */
export type LengthRule =
  | { readonly exactly: number }
  | { readonly multipleOf: number }
  | { readonly oneOf: readonly number[] }
  | { readonly min: number; readonly max: number };

/** The inclusive range an integer field must fall in. */
export interface IntRange { readonly min: number; readonly max: number }

/*
 * A field type says what a field is on the wire and what it becomes once read. `toValue` runs only
 * after the walker has checked the wire type and length, so it never sees a malformed value; it may
 * still throw (a CompactError, say), which the walker reports against the field. `toWire` is the
 * inverse. They are declared as methods so that a table can hold field types of different value
 * types side by side (method parameters are compared bivariantly).
 */

/** A bencoded integer within `range`. */
export interface IntField<V> {
  readonly wire: 'int';
  readonly range: IntRange;
  toValue(wire: number): V;
  /** `undefined` leaves the key out (a false flag is not sent). */
  toWire(value: V): number | undefined;
}

/** A bencoded byte string whose length obeys `length` (any length when undefined). */
export interface BytesField<V> {
  readonly wire: 'bytes';
  readonly length: LengthRule | undefined;
  toValue(wire: Uint8Array): V;
  toWire(value: V): Uint8Array;
}

/** A bencoded list of byte strings, each of whose length obeys `itemLength`. */
export interface ListField<V> {
  readonly wire: 'list';
  readonly itemLength: LengthRule | undefined;
  toValue(wire: readonly Uint8Array[]): V;
  /**
   * Byte strings, or JS strings written as UTF-8 (`want`'s "n4"); or one Uint8Array holding the
   * list's items already bencoded, back to back (a node's stored peers, see BencodedPeers).
   */
  toWire(value: V): readonly (Uint8Array | string)[] | Uint8Array;
}

/**
 * Any bencoded value, carried as its bencoded bytes (BEP 44's `v`: what is hashed and signed is
 * the encoding, so the encoding is the value). `maxBytes` bounds it.
 */
export interface EncodedField<V> {
  readonly wire: 'any';
  readonly maxBytes: number;
  toValue(encoded: Uint8Array): V;
  toWire(value: V): Uint8Array;
}

export type FieldType<V> = IntField<V> | BytesField<V> | ListField<V> | EncodedField<V>;

/** One row of a table: a field type, and whether the field must be there. */
export interface FieldRule<V> {
  readonly type: FieldType<V>;
  readonly required: boolean;
  /**
   * For a required field that a set flag in the same dictionary excuses: when the field is
   * missing and `flag` is a non-zero integer, the field reads as `fallback` instead of failing.
   */
  readonly excusedBy?: { readonly flag: string; readonly fallback: V };
}
export interface RequiredRule<V> extends FieldRule<V> { readonly required: true }
export interface OptionalRule<V> extends FieldRule<V> { readonly required: false }

/**
 * The rows for type T: exactly one per property, required where T's property is required. The
 * compiler holds each table to the interface it fills, so they cannot drift apart.
 */
export type Schema<T> = {
  readonly [K in keyof T]-?: {} extends Pick<T, K> ? OptionalRule<Exclude<T[K], undefined>> : RequiredRule<T[K]>;
};

/** One column of a compiled table: the wire key, its full name for error messages, its rule. */
export interface Column {
  readonly key: string;
  /** E.g. "a.info_hash": computed once here, so the hot path never builds strings. */
  readonly field: string;
  readonly rule: FieldRule<unknown>;
  /** The key's bytes, for readers that match keys in the packet without building strings. */
  readonly keyBytes: Uint8Array;
}

/** A schema compiled for the walkers. `shape` is never set: it only ties the table to its type. */
export interface Table<T> {
  readonly columns: readonly Column[];
  readonly shape?: T;
}

export function required<V>(type: FieldType<V>): RequiredRule<V> {
  return { type, required: true };
}

export function optional<V>(type: FieldType<V>): OptionalRule<V> {
  return { type, required: false };
}

export function requiredUnless<V>(flag: string, fallback: V, type: FieldType<V>): RequiredRule<V> {
  return { type, required: true, excusedBy: { flag, fallback } };
}

/**
 * Compile a schema found at `path` ("a", "r", or "" for the top level). Columns are sorted by key,
 * the order bencode requires on the wire (BEP 3), so checks run, and errors surface, in wire order.
 */
export function table<T>(path: string, schema: Schema<T>): Table<T> {
  const keys = Object.keys(schema).sort() as Array<keyof T & string>;
  // Each row is a RequiredRule or OptionalRule of its property's type; the walkers see them all alike.
  const columns = keys.map((key): Column => ({
    key,
    field: path === '' ? key : `${path}.${key}`,
    rule: schema[key] as FieldRule<unknown>,
    keyBytes: Uint8Array.from(key, (c) => c.charCodeAt(0)),
  }));
  return { columns };
}

// ---------------------------------------------------------------------------------------------
// Converters shared by field types.
// ---------------------------------------------------------------------------------------------

export function same<V>(value: V): V {
  return value;
}

/**
 * Byte fields are copied out of the packet. The decoder hands back views into the datagram's
 * buffer; a copy lets a kept ID or token outlive it (and survive a transport that reuses its
 * receive buffer) without pinning the whole packet in memory.
 */
export function copy(bytes: Uint8Array): Uint8Array {
  // The copy constructor: cheaper than slice(), which must look up a species constructor.
  return new Uint8Array(bytes);
}

// ---------------------------------------------------------------------------------------------
// Reading: one function checks any dictionary against any table.
// ---------------------------------------------------------------------------------------------

/** A field at fault, as found by readField. Only built on failure; not an Error, so it costs no stack trace. */
export class Fault {
  constructor(
    readonly field: string,
    readonly message: string,
  ) {}
}

/**
 * Check `dict` against `table` and copy the typed fields into `into` (so that the top level can
 * add its fields to the message object it is building), or name the first field at fault. Unknown
 * keys are simply never looked at.
 */
export function readTable<T, Into extends object>(dict: BencodeDict, rows: Table<T>, into: Into): (Into & T) | Fault {
  const fields = into as Record<string, unknown>;
  for (const column of rows.columns) {
    const raw = dict[column.key];
    if (raw === undefined) {
      if (!column.rule.required) continue;
      const excuse = column.rule.excusedBy;
      if (excuse === undefined || !isSetFlag(dict[excuse.flag])) {
        return new Fault(column.field, `${column.field} is missing`);
      }
      fields[column.key] = excuse.fallback;
      continue;
    }
    const value = readColumn(raw, column);
    if (value instanceof Fault) return value;
    fields[column.key] = value;
  }
  // Every required column is now in `into`, each converted by the row the Schema<T> type checked.
  return into as Into & T;
}

/** readField, with any exception from a converter (e.g. CompactError) turned into a Fault. */
export function readColumn(raw: BencodeValue, column: Column): unknown {
  try {
    return readField(raw, column.rule.type, column.field);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return new Fault(column.field, `${column.field}: ${reason}`);
  }
}

/** Check one value's wire type and length, then convert it. Returns the typed value or a Fault. */
export function readField(raw: BencodeValue, type: FieldType<unknown>, field: string): unknown {
  switch (type.wire) {
    case 'int': {
      if (typeof raw !== 'number' && typeof raw !== 'bigint') return wrongType(field, 'an integer', raw);
      // A bigint is outside the safe-integer range, and so outside every range we use.
      if (typeof raw === 'bigint' || raw < type.range.min || raw > type.range.max) {
        return new Fault(field, `${field} must be ${describeRange(type.range)}, got ${String(raw)}`);
      }
      return type.toValue(raw);
    }
    case 'bytes': {
      if (!(raw instanceof Uint8Array)) return wrongType(field, 'a byte string', raw);
      const fault = checkLength(raw, type.length, field);
      return fault ?? type.toValue(raw);
    }
    case 'any': {
      // Re-encoded from the decoded value: canonical bencode (sorted keys) gives back the sender's bytes.
      const encoded = encode(raw);
      if (encoded.length > type.maxBytes) return new Fault(field, `${field} must be at most ${type.maxBytes} bytes bencoded, got ${encoded.length}`);
      return type.toValue(encoded);
    }
    case 'list': {
      if (!Array.isArray(raw)) return wrongType(field, 'a list', raw);
      for (let i = 0; i < raw.length; i++) {
        const item = raw[i];
        if (!(item instanceof Uint8Array)) return wrongType(`${field}[${i}]`, 'a byte string', item);
        const fault = checkLength(item, type.itemLength, `${field}[${i}]`);
        if (fault !== undefined) return fault;
      }
      // Every item was just checked to be a byte string.
      return type.toValue(raw as Uint8Array[]);
    }
  }
}

function checkLength(bytes: Uint8Array, rule: LengthRule | undefined, field: string): Fault | undefined {
  if (rule === undefined || fitsLength(bytes.length, rule)) return undefined;
  return new Fault(field, `${field} must be ${describeLength(rule)}, got ${bytes.length}`);
}

function fitsLength(length: number, rule: LengthRule): boolean {
  if ('exactly' in rule) return length === rule.exactly;
  if ('multipleOf' in rule) return length % rule.multipleOf === 0;
  if ('oneOf' in rule) return rule.oneOf.includes(length);
  return length >= rule.min && length <= rule.max;
}

/** For messages: "20 bytes", "a multiple of 26 bytes", "6 or 18 bytes", "1 to 32 bytes". */
function describeLength(rule: LengthRule): string {
  if ('exactly' in rule) return `${rule.exactly} bytes`;
  if ('multipleOf' in rule) return `a multiple of ${rule.multipleOf} bytes`;
  if ('oneOf' in rule) return `${rule.oneOf.join(' or ')} bytes`;
  return `${rule.min} to ${rule.max} bytes`;
}

/** For messages: "an integer in 0..65535", "an integer >= 0", "a safe integer". */
function describeRange({ min, max }: IntRange): string {
  if (max !== Number.MAX_SAFE_INTEGER) return `an integer in ${min}..${max}`;
  return min === Number.MIN_SAFE_INTEGER ? 'a safe integer' : `an integer >= ${min}`;
}

function wrongType(field: string, expected: string, raw: BencodeValue | undefined): Fault {
  return new Fault(field, `${field} must be ${expected}, got ${describeValue(raw)}`);
}

export function describeValue(raw: BencodeValue | undefined): string {
  if (raw === undefined) return 'nothing';
  if (typeof raw === 'number' || typeof raw === 'bigint') return 'an integer';
  if (raw instanceof Uint8Array) return 'a byte string';
  return Array.isArray(raw) ? 'a list' : 'a dictionary';
}

/** A flag as readTable's `excusedBy` sees it, before validation: any non-zero integer is set. */
function isSetFlag(raw: BencodeValue | undefined): boolean {
  if (typeof raw === 'number') return raw !== 0;
  return typeof raw === 'bigint' && raw !== 0n;
}

// ---------------------------------------------------------------------------------------------
// Writing.
// ---------------------------------------------------------------------------------------------

/**
 * `value` as a dictionary according to `rows`: each present field through its `toWire`, in the
 * columns' (sorted) order. Absent fields, and false flags, are left out. The input is trusted (it
 * is typed, and ours): checking happens on the way in, in parseMessage.
 */
export function writeTable(w: BencodeWriter, value: object, rows: Table<unknown>): void {
  const fields = value as Readonly<Record<string, unknown>>;
  w.dict();
  for (const column of rows.columns) {
    const typed = fields[column.key];
    if (typed !== undefined) writeField(w, column.key, column.rule.type, typed);
  }
  w.end();
}

export function writeField(w: BencodeWriter, key: string, type: FieldType<unknown>, typed: unknown): void {
  switch (type.wire) {
    case 'int': {
      const n = type.toWire(typed);
      if (n !== undefined) w.key(key).int(n);
      return;
    }
    case 'bytes':
      w.key(key).bytes(type.toWire(typed));
      return;
    case 'any':
      w.key(key).raw(type.toWire(typed));
      return;
    case 'list': {
      w.key(key).list();
      const items = type.toWire(typed);
      if (items instanceof Uint8Array) {
        w.raw(items);
      } else {
        for (const item of items) {
          if (typeof item === 'string') w.text(item);
          else w.bytes(item);
        }
      }
      w.end();
      return;
    }
  }
}

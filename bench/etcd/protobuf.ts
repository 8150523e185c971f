// The few protobuf shapes etcd's lock and lease calls need, encoded by hand: varint and
// length-delimited fields only, which is all LockRequest, UnlockRequest and the lease messages use.
// etcd's ids are int64 and often above 2^53, so varints are bigints.

/** A field of a message: a varint (wire type 0) or bytes (wire type 2). */
export type ProtoField =
  { readonly kind: 'varint'; readonly value: bigint } | { readonly kind: 'bytes'; readonly value: Buffer };

function varint(value: bigint): number[] {
  if (value < 0n) throw new RangeError('negative varints are not used by these messages');
  const out: number[] = [];
  let rest = value;
  while (rest >= 0x80n) {
    out.push(Number(rest & 0x7fn) | 0x80);
    rest >>= 7n;
  }
  out.push(Number(rest));
  return out;
}

/** Encodes fields in the order given; `number` is the field number. */
export function encodeMessage(fields: readonly (readonly [number, ProtoField])[]): Buffer {
  const parts: Buffer[] = [];
  for (const [number, field] of fields) {
    if (field.kind === 'varint') {
      parts.push(Buffer.from([...varint(BigInt(number) << 3n), ...varint(field.value)]));
    } else {
      parts.push(
        Buffer.from([...varint((BigInt(number) << 3n) | 2n), ...varint(BigInt(field.value.length))]),
        field.value,
      );
    }
  }
  return Buffer.concat(parts);
}

/** Decodes a message's varint and bytes fields by number (the last occurrence wins, as protobuf says). */
export function decodeMessage(buffer: Buffer): Map<number, ProtoField> {
  const fields = new Map<number, ProtoField>();
  let at = 0;
  const readVarint = (): bigint => {
    let value = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (at >= buffer.length) throw new Error('truncated varint');
      if (shift > 63n) throw new Error('varint longer than 64 bits');
      const byte = buffer[at++] as number;
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return value;
    }
  };
  while (at < buffer.length) {
    const key = readVarint();
    const number = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === 0) {
      fields.set(number, { kind: 'varint', value: readVarint() });
    } else if (wire === 2) {
      const length = Number(readVarint());
      if (at + length > buffer.length) throw new Error('truncated bytes field');
      fields.set(number, { kind: 'bytes', value: buffer.subarray(at, at + length) });
      at += length;
    } else {
      throw new Error(`unexpected wire type ${wire}`);
    }
  }
  return fields;
}

export const varintField = (value: bigint | number): ProtoField => ({ kind: 'varint', value: BigInt(value) });
export const bytesField = (value: Buffer | string): ProtoField => ({
  kind: 'bytes',
  value: typeof value === 'string' ? Buffer.from(value, 'utf8') : value,
});

/** Field `number` as an integer (0 when absent, as protobuf's default). */
export function varintOf(fields: Map<number, ProtoField>, number: number): bigint {
  const field = fields.get(number);
  if (field === undefined) return 0n;
  if (field.kind !== 'varint') throw new Error(`field ${number} is not a varint`);
  return field.value;
}

/** Field `number` as bytes (empty when absent). */
export function bytesOf(fields: Map<number, ProtoField>, number: number): Buffer {
  const field = fields.get(number);
  if (field === undefined) return Buffer.alloc(0);
  if (field.kind !== 'bytes') throw new Error(`field ${number} is not bytes`);
  return field.value;
}

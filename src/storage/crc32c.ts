/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum on every stored record.
 * Castagnoli rather than the zlib CRC-32 because it detects more error patterns in short records
 * (the reason iSCSI, ext4 and LevelDB itself chose it). Slicing-by-8 tables: one table lookup per
 * byte is ~5x slower, which matters when a 70 MB snapshot is verified at startup.
 */

const polynomial = 0x82f63b78;
const tableCount = 8;

function buildTables(): Uint32Array {
  const tables = new Uint32Array(256 * tableCount);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ polynomial : c >>> 1;
    tables[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = tables[n] as number;
    for (let t = 1; t < tableCount; t++) {
      c = (tables[c & 0xff] as number) ^ (c >>> 8);
      tables[t * 256 + n] = c >>> 0;
    }
  }
  return tables;
}

const tables = buildTables();

/**
 * Continue a CRC-32C over `bytes`. Start with `crc32c(bytes)` (previous = 0) and pass the result
 * back in to checksum data that arrives in pieces: `crc32c(b, crc32c(a))` equals `crc32c(a ‖ b)`.
 * Returns an unsigned 32-bit integer.
 */
export function crc32c(bytes: Uint8Array, previous = 0): number {
  const t = tables;
  let crc = ~previous >>> 0;
  let i = 0;
  const length = bytes.length;
  const aligned = length - (length % 8);
  while (i < aligned) {
    const word =
      (bytes[i] as number) |
      ((bytes[i + 1] as number) << 8) |
      ((bytes[i + 2] as number) << 16) |
      ((bytes[i + 3] as number) << 24);
    const lo = (crc ^ word) >>> 0;
    crc =
      (t[7 * 256 + (lo & 0xff)] as number) ^
      (t[6 * 256 + ((lo >>> 8) & 0xff)] as number) ^
      (t[5 * 256 + ((lo >>> 16) & 0xff)] as number) ^
      (t[4 * 256 + (lo >>> 24)] as number) ^
      (t[3 * 256 + (bytes[i + 4] as number)] as number) ^
      (t[2 * 256 + (bytes[i + 5] as number)] as number) ^
      (t[256 + (bytes[i + 6] as number)] as number) ^
      (t[bytes[i + 7] as number] as number);
    i += 8;
  }
  while (i < length) {
    crc = (t[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8);
    i++;
  }
  return ~crc >>> 0;
}

// Output too big for one write: a list of 20,000 processes' JSON is 37 MB.

/** PARTS to stdout, gathered into writes of a megabyte: a write each would be a syscall each, and all of them one copy the size of the whole. */
export function writeParts(parts: Uint8Array[]): void {
  const CHUNK = 1 << 20;
  let chunk = Buffer.allocUnsafe(CHUNK);
  let used = 0;
  for (const part of parts) {
    if (used + part.length > chunk.length) {
      process.stdout.write(chunk.subarray(0, used));
      // A new one: the stream may still hold the last (a terminal's writes are not synchronous).
      chunk = Buffer.allocUnsafe(Math.max(CHUNK, part.length));
      used = 0;
    }
    chunk.set(part, used);
    used += part.length;
  }
  process.stdout.write(chunk.subarray(0, used));
}

// A growable list of strings kept as one UTF-8 buffer plus offsets. A million captions held as JS
// strings cost a heap object each (and UTF-16 for any non-Latin-1 text); packed they cost their
// bytes and eight more, and the garbage collector sees two objects instead of a million.
const decoder = new TextDecoder();
const encoder = new TextEncoder();

export class PackedStrings {
  private bytes = new Uint8Array(1 << 16);
  private used = 0;
  private ends = new Float64Array(1024);
  private count = 0;

  get length(): number {
    return this.count;
  }

  /** Bytes held (for memory reports). */
  get byteLength(): number {
    return this.used + this.count * 8;
  }

  push(s: string): number {
    // UTF-8 needs at most 3 bytes per UTF-16 code unit.
    const need = this.used + s.length * 3;
    if (need > this.bytes.length) {
      const grown = new Uint8Array(Math.max(need, this.bytes.length * 2));
      grown.set(this.bytes.subarray(0, this.used));
      this.bytes = grown;
    }
    const { written } = encoder.encodeInto(s, this.bytes.subarray(this.used));
    this.used += written;
    if (this.count === this.ends.length) {
      const grown = new Float64Array(this.ends.length * 2);
      grown.set(this.ends);
      this.ends = grown;
    }
    this.ends[this.count] = this.used;
    return this.count++;
  }

  get(i: number): string {
    if (!Number.isInteger(i) || i < 0 || i >= this.count)
      throw new RangeError(`index ${i} out of range (0..${this.count - 1})`);
    const start = i === 0 ? 0 : this.ends[i - 1]!;
    return decoder.decode(this.bytes.subarray(start, this.ends[i]!));
  }

  *[Symbol.iterator](): Generator<string> {
    for (let i = 0; i < this.count; i++) yield this.get(i);
  }

  /** Releases the spare capacity once filling is done. */
  trim(): void {
    this.bytes = this.bytes.slice(0, this.used);
    this.ends = this.ends.slice(0, this.count);
  }
}

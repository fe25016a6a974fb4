// The disk side of a ZIM download: the part file written and hashed in blocks, synced as it grows.
import { createHash, type Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { READ_BUFFER_BYTES } from '../../adapters/remote/http-client.ts';
import { diskError, ZimDownloadError } from './download-errors.ts';

const MiB = 1024 * 1024;
/** Hash and write in blocks of this size (see PartSink); measured: 2 MiB beats 1 MiB by ~10 %, 4 MiB adds nothing. */
const WRITE_BATCH_BYTES = 2 * MiB;
const SYNC_EVERY_BYTES = 16 * MiB;
/** A block plus room for one more read. */
const SINK_BUFFER_BYTES = WRITE_BATCH_BYTES + READ_BUFFER_BYTES;

// Writing and hashing: chunks are copied into one of two 2 MiB buffers; a full buffer is written (on libuv's pool)
// and hashed in one call while the other fills. Measured on 127.0.0.1: hashing and writing per block instead of per
// 64 KiB socket chunk roughly halves the CPU time. At most one write is in flight, so a slow disk slows the network
// read (backpressure) and memory stays at 4 MiB. A data sync every 16 MiB runs in the background. (Hashing on a
// worker thread over shared blocks was measured side by side too: slower on 2 cores, and about 25 MB more memory
// while it runs, 15 MB of it kept after.)

export class PartSink {
  /** sha-256 of every byte handed to the disk so far (after drain(): of every byte pushed). */
  hash: Hash = createHash('sha256');
  private readonly fh: FileHandle;
  // A read may land in the room past WRITE_BATCH_BYTES, so a block is flushed once it holds at least that much.
  private readonly buffers = [Buffer.allocUnsafeSlow(SINK_BUFFER_BYTES), Buffer.allocUnsafeSlow(SINK_BUFFER_BYTES)];
  private current = 0;
  private fill = 0;
  /** Bytes at the start of the current block already hashed and written by flushIdle(). */
  private flushed = 0;
  private position: number;
  private inFlight: Promise<void> | undefined;
  private syncedTo: number;
  private syncing: Promise<void> | undefined;
  private failure: ZimDownloadError | undefined;
  private pushing: Promise<void> | undefined;

  constructor(fh: FileHandle, position: number) {
    this.fh = fh;
    this.position = position;
    this.syncedTo = position;
  }

  /** A promise only when the caller must wait (a block is due); usually the chunk is just copied. */
  push(chunk: Uint8Array): Promise<void> | undefined {
    if (chunk.byteLength <= SINK_BUFFER_BYTES - this.fill) {
      this.buffers[this.current]!.set(chunk, this.fill);
      return this.commit(chunk.byteLength);
    }
    return this.pushSlow(chunk);
  }

  /** Free room in the current block, for a read to land in directly (then commit()). */
  space(): Buffer | undefined {
    return this.fill < WRITE_BATCH_BYTES && !this.pushing ? this.buffers[this.current]!.subarray(this.fill) : undefined;
  }

  /** `n` bytes were written into space(). A promise when the block is due and the caller must wait. */
  commit(n: number): Promise<void> | undefined {
    this.fill += n;
    if (this.fill < WRITE_BATCH_BYTES) return undefined;
    const flushing = this.flush().finally(() => {
      if (this.pushing === flushing) this.pushing = undefined;
    });
    this.pushing = flushing;
    return flushing;
  }

  private pushSlow(chunk: Uint8Array): Promise<void> {
    const pushing = this.copyAndFlush(chunk).finally(() => {
      if (this.pushing === pushing) this.pushing = undefined;
    });
    this.pushing = pushing;
    return pushing;
  }

  private async copyAndFlush(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < chunk.byteLength) {
      const n = Math.min(chunk.byteLength - offset, SINK_BUFFER_BYTES - this.fill);
      this.buffers[this.current]!.set(chunk.subarray(offset, offset + n), this.fill);
      this.fill += n;
      offset += n;
      if (this.fill >= WRITE_BATCH_BYTES) await this.flush();
    }
  }

  /** Everything pushed is hashed and written (to the page cache, and mostly to disk) when this resolves. */
  async drain(): Promise<void> {
    await this.pushing?.catch(() => undefined); // callers wait for push(), but a second flush racing it would corrupt
    // After a failed write nothing more may be written: the file must stay a clean prefix to resume from.
    if (this.failure) throw this.failure;
    if (this.fill > this.flushed) await this.flush();
    await this.settle();
    await this.syncing;
    if (this.failure) throw this.failure;
  }

  /** Back to an empty file and a fresh hash (a server ignored Range and sends the file from its start). */
  async restart(): Promise<void> {
    await this.pushing?.catch(() => undefined);
    this.fill = 0;
    this.flushed = 0;
    await this.settle();
    await this.syncing;
    await this.fh.truncate(0);
    this.hash = createHash('sha256');
    this.position = 0;
    this.syncedTo = 0;
  }

  private async settle(): Promise<void> {
    const pending = this.inFlight;
    this.inFlight = undefined;
    try {
      await pending;
    } catch (err) {
      this.failure ??= diskError(err, 'the part file');
      throw this.failure;
    }
  }

  /**
   * The connection is idle (a stall, a slow mirror): hash and write what the current block holds now, so the part
   * file — and the progress shown — match what was received. Only bytes already committed are touched, and the block
   * stays current, so a read that was handed its free room earlier still lands where it should. Resolves once written.
   */
  flushIdle(): Promise<void> {
    if (this.failure || this.pushing || this.fill === this.flushed) return this.settleQuietly();
    const piece = this.buffers[this.current]!.subarray(this.flushed, this.fill);
    const write = writeFully(this.fh, piece, this.position);
    write.catch(() => undefined); // observed by settle()
    this.hash.update(piece);
    this.position += piece.byteLength;
    this.flushed = this.fill;
    this.track(write);
    return this.settleQuietly();
  }

  /** The next settle() waits for this write as well as any still in flight (an idle write may run beside a block's). */
  private track(write: Promise<void>): void {
    const before = this.inFlight;
    if (!before) return void (this.inFlight = write);
    const both = Promise.all([before, write]).then(() => undefined);
    both.catch(() => undefined); // observed by settle()
    this.inFlight = both;
  }

  /** Waits for the writes in flight without taking them over (settle() stays the one that reports failures). */
  private settleQuietly(): Promise<void> {
    return (this.inFlight ?? Promise.resolve()).then(() => undefined);
  }

  private async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    await this.settle(); // the other buffer's write is done: it may be refilled (throws if that write failed)
    const buffer = this.buffers[this.current]!.subarray(this.flushed, this.fill);
    const position = this.position;
    this.position += buffer.byteLength;
    this.current ^= 1;
    this.fill = 0;
    this.flushed = 0;
    // The write is handed to libuv's pool first, so the other core copies the block to the page cache while this one
    // hashes it (both only read it). Measured side by side: 10–13 % faster than hashing first.
    const write = writeFully(this.fh, buffer, position);
    write.catch(() => undefined); // observed by settle(); this only silences "unhandled" if nobody settles
    this.hash.update(buffer);
    this.track(write);
    // Without this the kernel holds the whole file dirty in memory (a Pi has little) and the final fsync writes
    // it all at once; syncing as we go overlaps the disk with the network.
    if (!this.syncing && this.position - this.syncedTo >= SYNC_EVERY_BYTES) {
      this.syncedTo = this.position;
      this.syncing = write
        .then(() => this.fh.datasync())
        .then(
          () => undefined,
          (err: unknown) => {
            this.failure = diskError(err, 'the part file');
          },
        )
        .finally(() => {
          this.syncing = undefined;
        });
    }
  }
}

/** write() may write less than asked (a nearly full disk does): loop until all is written or it throws. */
async function writeFully(fh: FileHandle, buffer: Uint8Array, position: number): Promise<void> {
  let offset = 0;
  try {
    while (offset < buffer.byteLength) {
      const { bytesWritten } = await fh.write(buffer, offset, buffer.byteLength - offset, position + offset);
      if (bytesWritten === 0) throw Object.assign(new Error('write wrote nothing'), { code: 'ENOSPC' });
      offset += bytesWritten;
    }
  } catch (err) {
    throw diskError(err, 'the part file');
  }
}

// Service logs from the Engine API as plain lines: demultiplexed, ANSI stripped, each line bounded.
import { PassThrough, type Readable } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import type Docker from 'dockerode';

export type LogLine = { stream: 'stdout' | 'stderr'; text: string };
const MAX_LINE = 4000;

let open = 0;
/** Log streams open right now: each viewer holds one, and must release it when they leave. */
export const openLogStreams = () => open;

/**
 * Splits Docker's multiplexed log stream (8-byte frame headers when the service has no TTY) into lines.
 * Returns the raw stream too, so the caller can pause it (backpressure) and destroy it (viewer left).
 */
export async function serviceLogs(
  docker: Docker,
  serviceId: string,
  opts: { tail: number; follow: boolean; onLine: (line: LogLine) => void },
): Promise<Readable> {
  const raw = (await docker.getService(serviceId).logs({
    stdout: true,
    stderr: true,
    follow: opts.follow as true,
    tail: opts.tail,
    timestamps: true,
  })) as unknown as Readable | Buffer;
  const source: Readable = Buffer.isBuffer(raw) ? new PassThrough().end(raw) : raw;
  // A followed log is long-lived: the client's request timeout must not cut it while the service is quiet.
  (source as Readable & { socket?: { setTimeout(ms: number): unknown } }).socket?.setTimeout(0);
  open += 1;
  source.once('close', () => (open -= 1));
  let pending: Buffer = Buffer.alloc(0);
  const partial: Record<LogLine['stream'], string> = { stdout: '', stderr: '' };

  const emitText = (stream: LogLine['stream'], text: string) => {
    const lines = (partial[stream] + text).split('\n');
    partial[stream] = (lines.pop() ?? '').slice(-MAX_LINE);
    for (const line of lines) opts.onLine({ stream, text: stripVTControlCharacters(line.replace(/\r$/, '')).slice(0, MAX_LINE) });
  };

  source.on('data', (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 8) {
      const kind = pending[0];
      if (kind !== 1 && kind !== 2) {
        // Not multiplexed (a TTY service): the bytes are the text itself.
        emitText('stdout', pending.toString('utf8'));
        pending = Buffer.alloc(0);
        break;
      }
      const size = pending.readUInt32BE(4);
      if (pending.length < 8 + size) break;
      emitText(kind === 2 ? 'stderr' : 'stdout', pending.subarray(8, 8 + size).toString('utf8'));
      pending = pending.subarray(8 + size);
    }
  });
  source.on('end', () => {
    for (const stream of ['stdout', 'stderr'] as const) if (partial[stream]) emitText(stream, '\n');
  });
  return source;
}

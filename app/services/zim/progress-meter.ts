// Download progress for the page: bytes, speed over the last few seconds, time left; at most 4 calls a second.
import { performance } from 'node:perf_hooks';

const PROGRESS_INTERVAL_MS = 250;
const SPEED_WINDOW_MS = 5_000;

export type DownloadPhase = 'checking' | 'downloading';

export type DownloadProgress = {
  /** Bytes on disk and hashed so far (while `checking`: bytes of an earlier part file re-hashed so far). */
  done: number;
  total: number;
  /** Moving average over the last few seconds; 0 until known. */
  bytesPerSecond: number;
  /** null while the speed is unknown. */
  secondsLeft: number | null;
  phase: DownloadPhase;
};

export class ProgressMeter {
  private readonly total: number;
  private readonly onProgress: ((p: DownloadProgress) => void) | undefined;
  private samples: { at: number; done: number }[] = [];
  private lastEmit = Number.NEGATIVE_INFINITY;
  private phase: DownloadPhase | undefined;

  constructor(total: number, onProgress: ((p: DownloadProgress) => void) | undefined) {
    this.total = total;
    this.onProgress = onProgress;
  }

  emit(done: number, phase: DownloadPhase, force = false): void {
    if (!this.onProgress) return;
    const now = performance.now();
    if (phase !== this.phase) {
      // Re-hashing a part file is not download speed: start the window afresh when the phase changes.
      this.phase = phase;
      this.samples = [];
    } else if (!force && now - this.lastEmit < PROGRESS_INTERVAL_MS) return;
    this.lastEmit = now;
    this.samples.push({ at: now, done });
    while (this.samples.length > 2 && now - this.samples[1]!.at > SPEED_WINDOW_MS) this.samples.shift();
    const first = this.samples[0]!;
    const seconds = (now - first.at) / 1000;
    const bytesPerSecond = seconds > 0 ? Math.max(0, (done - first.done) / seconds) : 0;
    const secondsLeft = done >= this.total ? 0 : phase === 'downloading' && bytesPerSecond > 0 ? Math.round((this.total - done) / bytesPerSecond) : null;
    try {
      this.onProgress({ done, total: this.total, bytesPerSecond: Math.round(bytesPerSecond), secondsLeft, phase });
    } catch {
      // A broken progress listener must not break the download.
    }
  }
}

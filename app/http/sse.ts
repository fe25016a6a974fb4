// Server-Sent Events: one open response per viewer, pushed to by the live model; cleaned up when the viewer leaves.
import type { Request, Response } from 'express';

export type SseChannel = {
  /**
   * Sends one event; returns false when the socket's buffer is full (the caller should wait for `drain`). With
   * `id`, a browser that reconnects by itself says where it was (Last-Event-ID).
   */
  send(event: string, html: string, id?: number): boolean;
  onClose(fn: () => void): void;
  readonly closed: boolean;
};

const HEARTBEAT_MS = 20_000;

/** Every line break an EventSource knows: CRLF, a bare CR and a bare LF each end a line. */
const LINE_BREAK = /\r\n|\r|\n/;

/**
 * One event as the stream's text. Everything the node writes to an SSE stream goes through here. The data is split
 * on CR, LF and CRLF alike, so text from a container's log or a Docker label can never end its `data:` line
 * early and start a field of its own (`event:`, `id:`, `retry:`); the browser joins the lines back with LF.
 */
export function sseEvent(event: string, data: string, id?: number): string {
  const name = event.replace(/[\r\n]/g, '');
  const idLine = id !== undefined && Number.isSafeInteger(id) ? `id: ${id}\n` : '';
  const dataLines = data.split(LINE_BREAK).map((l) => `data: ${l}`).join('\n');
  return `${idLine}event: ${name}\n${dataLines}\n\n`;
}

export function openSse(req: Request, res: Response): SseChannel {
  res.status(200).set({
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no', // proxies must not hold events back
  });
  res.flushHeaders();
  res.write('retry: 2000\n\n');
  let closed = false;
  const lastSent = new Map<string, string>();
  const closers: (() => void)[] = [];
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    for (const fn of closers) fn();
  };
  req.on('close', close);
  res.on('close', close);
  return {
    send(event, html, id) {
      if (closed) return false;
      // The same page state twice is nothing new for the viewer (append-only events are never identical in a row).
      if (event !== 'line' && lastSent.get(event) === html) return true;
      if (event !== 'line') lastSent.set(event, html);
      return res.write(sseEvent(event, html, id));
    },
    onClose(fn) {
      closers.push(fn);
    },
    get closed() {
      return closed;
    },
  };
}

/** Calls `fn` at most once per `ms`, always with the latest state (trailing edge). */
export function coalesce(ms: number, fn: () => void): { poke(): void; cancel(): void } {
  let timer: NodeJS.Timeout | null = null;
  return {
    poke() {
      timer ??= setTimeout(() => {
        timer = null;
        fn();
      }, ms);
    },
    cancel() {
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}

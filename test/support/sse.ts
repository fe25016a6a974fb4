// A minimal Server-Sent Events reader for tests: collects events until a condition holds or time runs out.
export type SseEvent = { event: string; data: string; at: number };

/** Splits the complete `event:`/`data:` blocks off a buffer of SSE text; returns them and what is left. */
export function takeSseEvents(buffer: string): { events: { event: string; data: string }[]; rest: string } {
  const events: { event: string; data: string }[] = [];
  let end: number;
  while ((end = buffer.indexOf('\n\n')) >= 0) {
    const block = buffer.slice(0, end);
    buffer = buffer.slice(end + 2);
    const event = /^event: (.*)$/m.exec(block)?.[1];
    if (event) events.push({ event, data: [...block.matchAll(/^data: ?(.*)$/gm)].map((m) => m[1]).join('\n') });
  }
  return { events, rest: buffer };
}

export async function readSse(
  url: string,
  headers: Record<string, string>,
  until: (e: SseEvent, all: SseEvent[]) => boolean,
  opts: { timeoutMs?: number; onOpen?: () => void | Promise<void> } = {},
): Promise<SseEvent[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), opts.timeoutMs ?? 15_000);
  const events: SseEvent[] = [];
  try {
    const res = await fetch(url, { headers, signal: controller.signal });
    if (res.status !== 200) throw new Error(`SSE ${url} answered ${res.status}`);
    await opts.onOpen?.();
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const taken = takeSseEvents(buffer + value);
      buffer = taken.rest;
      for (const parsed of taken.events) {
        const e = { ...parsed, at: Date.now() };
        events.push(e);
        if (until(e, events)) return events;
      }
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return events;
}

// What the node writes to an SSE stream, read the way a browser's EventSource reads it (CR, LF and CRLF all end a
// line): text from logs and labels stays data and can never forge an event:, id: or retry: field.
import { EventEmitter } from 'node:events';
import type { Request, Response } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { openSse, sseEvent, type SseChannel } from '../../app/http/sse.ts';

type Parsed = { events: { event: string; data: string; lastEventId: string }[]; retry: number | undefined };

/** The HTML standard's event-stream interpretation, as browsers do it. */
function parseLikeABrowser(stream: string): Parsed {
  const out: Parsed = { events: [], retry: undefined };
  let data = '';
  let event = '';
  let lastEventId = '';
  for (const line of stream.split(/\r\n|\r|\n/)) {
    if (line === '') {
      if (data !== '') out.events.push({ event: event || 'message', data: data.endsWith('\n') ? data.slice(0, -1) : data, lastEventId });
      data = '';
      event = '';
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') data += `${value}\n`;
    else if (field === 'event') event = value;
    else if (field === 'id' && !value.includes('\0')) lastEventId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) out.retry = Number(value);
  }
  return out;
}

/** A stand-in for Express's request and response that keeps what is written. */
function fakeStream(): { req: Request; res: Response; written: () => string } {
  const chunks: string[] = [];
  const res = Object.assign(new EventEmitter(), {
    status: () => res,
    set: () => res,
    flushHeaders: () => undefined,
    write: (chunk: string) => (chunks.push(chunk), true),
  });
  return { req: new EventEmitter() as unknown as Request, res: res as unknown as Response, written: () => chunks.join('') };
}

describe('SSE fields cannot be forged from data', () => {
  let open: { res: Response } | undefined;
  afterEach(() => {
    open?.res.emit('close'); // stops the heartbeat timer
  });
  const channel = (): { sse: SseChannel; written: () => string } => {
    const f = fakeStream();
    open = f;
    return { sse: openSse(f.req, f.res), written: f.written };
  };

  for (const [name, sep] of [['a bare CR', '\r'], ['CRLF', '\r\n'], ['LF', '\n']] as const) {
    it(`keeps lines broken by ${name} as data of the one event`, () => {
      const { sse, written } = channel();
      sse.send('line', `<div>first${sep}second${sep}third</div>`, 7);
      const parsed = parseLikeABrowser(written());
      expect(parsed.events).toEqual([{ event: 'line', data: '<div>first\nsecond\nthird</div>', lastEventId: '7' }]);
    });
  }

  it('turns a forged event:, id: and retry: after a bare CR into plain data', () => {
    const { sse, written } = channel();
    const forged = 'tick 1\revent: apps\rid: 999999\rretry: 1\r\rdata: <img src=x>\r';
    sse.send('line', `<div class="log-line">${forged}</div>`);
    sse.send('app', 'label value\r\nevent: state\r\nretry: 5');
    const parsed = parseLikeABrowser(written());
    expect(parsed.retry).toBe(2000); // only the node's own
    expect(parsed.events.map((e) => e.event)).toEqual(['line', 'app']);
    expect(parsed.events.every((e) => e.lastEventId === '')).toBe(true);
    expect(parsed.events[0]!.data).toBe('<div class="log-line">tick 1\nevent: apps\nid: 999999\nretry: 1\n\ndata: <img src=x>\n</div>');
    expect(parsed.events[1]!.data).toBe('label value\nevent: state\nretry: 5');
  });

  it('keeps a line break out of the event name and a non-integer out of the id', () => {
    expect(sseEvent('line\rretry: 1', 'x', 1.5)).toBe('event: lineretry: 1\ndata: x\n\n');
  });
});

import { describe, expect, it } from 'vitest';
import { takeSseEvents } from '../support/sse.ts';

describe('SSE parsing (test support)', () => {
  it('takes complete events, joins data lines, skips comments, keeps the partial rest', () => {
    const { events, rest } = takeSseEvents('retry: 2000\n\n: keep-alive\n\nevent: apps\ndata: <ul>\ndata: </ul>\n\nevent: line\ndata: half');
    expect(events).toEqual([{ event: 'apps', data: '<ul>\n</ul>' }]);
    expect(rest).toBe('event: line\ndata: half');
  });
});

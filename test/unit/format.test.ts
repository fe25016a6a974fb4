// The plain words pages use: times with a UTC fallback, counts, Docker's events and exit codes, log timestamps.
import { describe, expect, it } from 'vitest';
import { eventWords, exitWords, imageRatingWords, logLineParts, maturityWords, runningText, scoreWords, timeTag } from '../../app/http/format.ts';

describe('plain words', () => {
  it('writes a moment as <time> with its ISO value and a readable UTC text for pages without JavaScript', () => {
    const at = Date.UTC(2026, 11, 4, 21, 5, 9, 123);
    expect(timeTag(at)).toBe('<time datetime="2026-12-04T21:05:09.123Z" data-style="datetime">2026-12-04 21:05 UTC</time>');
    expect(timeTag(at, 'date')).toBe('<time datetime="2026-12-04T21:05:09.123Z" data-style="date">2026-12-04</time>');
    expect(timeTag(at, 'time')).toBe('<time datetime="2026-12-04T21:05:09.123Z" data-style="time">21:05:09 UTC</time>');
    expect(timeTag(null)).toBe('');
    expect(timeTag('not a date <b>')).toBe('not a date &#60;b&#62;');
  });

  it('counts copies as "2 of 5", not 2/5', () => {
    expect(runningText(2, 5)).toBe('2 of 5');
  });

  it('says what a container’s end means instead of its exit code', () => {
    expect(eventWords('container die (exit code 137)')).toBe('stopped: out of memory or killed (137)');
    expect(eventWords('container die (exit code 0)')).toBe('stopped normally');
    expect(eventWords('container die (exit code 3)')).toBe('stopped with an error (exit code 3)');
    expect(eventWords('container die')).toBe('stopped');
    expect(eventWords('container start')).toBe('started');
    expect(eventWords('container oom')).toBe('ran out of memory');
    expect(eventWords('container health: unhealthy')).toBe('failed its health check');
    expect(eventWords('service update')).toBe('service changed');
    expect(eventWords('something new')).toBe('something new');
    expect(exitWords(143)).toBe('stopped when asked to (143)');
  });

  it('turns a Docker log line’s nanosecond UTC timestamp into a readable <time>', () => {
    const parts = logLineParts('2026-12-04T21:05:09.123456789Z GET /catalog 200');
    expect(parts.rest).toBe('GET /catalog 200');
    expect(parts.at).toBe('<time datetime="2026-12-04T21:05:09.000Z" data-style="time">21:05:09 UTC</time>');
    expect(logLineParts('no timestamp here')).toEqual({ rest: 'no timestamp here' });
  });

  it('says a recipe’s scores in words instead of "status 4/5", "rating 4", "Tests 2"', () => {
    expect(maturityWords(4)).toBe('mature (4 of 5)');
    expect(maturityWords(1)).toBe('experimental (1 of 5)');
    expect(maturityWords(null)).toBe('');
    expect(imageRatingWords('4')).toBe('the project’s official image');
    expect(scoreWords('tests', '2')).toBe('deploys with its secrets and networks in automatic tests');
    expect(scoreWords('level', '0')).toBe('not supported');
    expect(scoreWords('level', 'N/A')).toBe('does not apply');
    expect(scoreWords('level', 'Yes')).toBe('yes');
    expect(scoreWords('level', 'partly')).toBe('partly');
  });
});

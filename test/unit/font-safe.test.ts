// An emoji-free message set: a Raspberry Pi without an emoji font shows emoji as blank boxes. Nothing the node
// writes may contain one, and text from elsewhere (abra's "deploy timed out 🙁") loses them before it is shown.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fontSafe } from '../../app/http/format.ts';

const APP = path.join(import.meta.dirname, '..', '..', 'app');
const TEXT = /\.(ts|eta|js|css|html|md)$/;

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return name === 'vendor' ? [] : filesUnder(p);
    return TEXT.test(name) ? [p] : [];
  });
}

/**
 * Beyond ASCII, only what the fonts on a stock Pi (DejaVu, Liberation) draw: Latin-1 letters and signs, general
 * punctuation (’ “ ” — … ·), a few arrows and maths signs. No pictographs, dingbats, variation selectors or joiners.
 */
const SAFE = /^[\u00A0-\u024F\u2010-\u2027\u2030-\u205E\u2190-\u2193\u2212\u2264\u2265]$/u;

describe('font-safe messages', () => {
  it('no file under app/ holds an emoji or a character a Pi without emoji fonts shows as a box', () => {
    const found: string[] = [];
    for (const file of filesUnder(APP)) {
      readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
        for (const ch of line.match(/[^\x00-\x7F]/gu) ?? []) {
          if (/\p{Extended_Pictographic}/u.test(ch) || !SAFE.test(ch)) found.push(`${path.relative(APP, file)}:${i + 1}: U+${ch.codePointAt(0)!.toString(16).toUpperCase()} ${ch}`);
        }
      });
    }
    expect(found).toEqual([]);
  });

  it('takes emoji out of text from abra and Docker, keeping the words', () => {
    expect(fontSafe('deploy timed out 🙁')).toBe('deploy timed out');
    expect(fontSafe('deploy failed 🛑 (app rollback_completed)')).toBe('deploy failed (app rollback_completed)');
    expect(fontSafe('👩‍💻 done ✔️')).toBe(' done');
    expect(fontSafe('Ça marche — “oui” …')).toBe('Ça marche — “oui” …');
  });
});

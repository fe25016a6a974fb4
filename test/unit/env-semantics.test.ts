// abra's env-file rules, written down as a table. abra reads app env files with a fork of joho/godotenv from its
// 1.5 line; each row below is a rule of that parser (parser.go at v1.5.1: getStatementStart, locateKeyName,
// extractVarValue, expandEscapes, expandVariables), checked here against the node's own reader, and then the
// writer is checked to produce only lines that this reader reads back exactly.
import { describe, expect, it } from 'vitest';
import { parseEnv } from '../../app/adapters/abra/env-parse.ts';
import { applyEnvChanges, encodeValue, valueProblem } from '../../app/services/env/write.ts';

type Row = [rule: string, file: string, expected: Record<string, string | undefined>];

const READING: Row[] = [
  ['a plain value', 'KEY=value', { KEY: 'value' }],
  ['spaces around = are dropped', 'KEY = value', { KEY: 'value' }],
  ['export is ignored', 'export KEY=value', { KEY: 'value' }],
  ['yaml-style KEY: value is an assignment too', 'KEY: value', { KEY: 'value' }],
  ['an unquoted value is trimmed', 'KEY=  value   ', { KEY: 'value' }],
  ['an unquoted value keeps inner spaces', 'KEY=My Wiki', { KEY: 'My Wiki' }],
  ['" #" starts an inline comment', 'KEY=value # a comment', { KEY: 'value' }],
  ['a # with no space before it is part of the value', 'KEY=a#b', { KEY: 'a#b' }],
  ['1.5: only the last " #" starts the comment', 'KEY=a # b # c', { KEY: 'a # b' }],
  ['1.5: a value that starts with # is kept (only a # after a space inside the value cuts)', 'KEY= # not a comment', { KEY: '# not a comment' }],
  ['an empty value', 'KEY=', { KEY: '' }],
  ['"" is empty too', 'KEY=""', { KEY: '' }],
  ['single quotes: literal, no escapes, no $VAR', "A=x\nKEY='a $A \\n \"q\" `b`'", { KEY: 'a $A \\n "q" `b`' }],
  ['single quotes then an inline comment', "KEY='x y' # length=3", { KEY: 'x y' }],
  ['double quotes: \\n is a line break', 'KEY="a\\nb"', { KEY: 'a\nb' }],
  ['double quotes: \\" is a quote and does not end the value', 'KEY="say \\"hi\\" now"', { KEY: 'say "hi" now' }],
  ['double quotes: \\\\ is one backslash', 'KEY="C:\\\\dir"', { KEY: 'C:\\dir' }],
  ['double quotes: \\$ is a literal dollar', 'KEY="costs \\$5"', { KEY: 'costs $5' }],
  ['double quotes: $VAR is an earlier key of the file', 'A=x\nKEY="$A:y"', { KEY: 'x:y' }],
  ['double quotes: ${VAR} too', 'A=x\nKEY="${A}y"', { KEY: 'xy' }],
  ['unquoted: $VAR is expanded as well', 'A=x\nKEY=$A/y', { KEY: 'x/y' }],
  ['an unknown $VAR is empty', 'KEY="$NOPE:y"', { KEY: ':y' }],
  ['a later key is not known yet', 'KEY="$B"\nB=x', { KEY: '', B: 'x' }],
  ['$ before small letters stays', 'KEY="$foo and $"', { KEY: '$foo and $' }],
  ['COMPOSE_FILE builds up line by line', 'COMPOSE_FILE="compose.yml"\nCOMPOSE_FILE="$COMPOSE_FILE:compose.a.yml"', { COMPOSE_FILE: 'compose.yml:compose.a.yml' }],
  ['the last assignment wins', 'KEY=1\nKEY=2', { KEY: '2' }],
  ['a commented line is not read', '#KEY=1', { KEY: undefined }],
  ['nor an indented one', '   # KEY=1', { KEY: undefined }],
  ['a commented alternative above the real line does not count', '#KEY=alt\nKEY=default', { KEY: 'default' }],
  ['a quoted value may span lines', 'KEY="a\nb"\nNEXT=1', { KEY: 'a\nb', NEXT: '1' }],
  ['CRLF line ends', 'KEY=v\r\nOTHER="w"\r\n', { KEY: 'v', OTHER: 'w' }],
  ['unicode is kept', 'KEY=Bibliothèque municipale', { KEY: 'Bibliothèque municipale' }],
  ['1.5: quote characters at the end inside the quotes are trimmed', 'KEY="a\\""', { KEY: 'a\\' }],
];

describe('reading an env file as abra does', () => {
  it.each(READING)('%s', (_rule, file, expected) => {
    const doc = parseEnv(file);
    expect(doc.problems).toEqual([]);
    for (const [key, value] of Object.entries(expected)) expect(doc.values.get(key), key).toBe(value);
  });

  it.each([
    ['a quote that is never closed', 'KEY="open\nOTHER=1'],
    ['text after the closing quote', 'KEY="a" b'],
    ['a line that is not an assignment', 'JUST WORDS'],
    ['a name with a character names cannot hold', 'KEY!=1'],
  ])('flags what abra would stop at: %s', (_rule, file) => {
    expect(parseEnv(file).problems.length).toBeGreaterThan(0);
  });
});

// What the writer makes of a value, given no line to follow; each is then read back.
const WRITING: [value: string, written: string][] = [
  ['production', 'production'],
  ['Bibliothèque', 'Bibliothèque'],
  ['', '""'],
  ['a value', '"a value"'],
  ["Alice's Wiki", `"Alice's Wiki"`],
  ['Costs $5', "'Costs $5'"],
  [', `www.example.com`', '", `www.example.com`"'],
  ['say "hi"', `'say "hi"'`],
  [`it's "x"`, `it's "x"`],
  ['C:\\dir\\', 'C:\\dir\\'],
  [' leading space', '" leading space"'],
  ['#hash', '"#hash"'],
  ['a\\nb', "'a\\nb'"],
  ["$x'", `"\\$x'"`],
  ['a # b', '"a # b"'],
];

describe('writing values so abra reads them back', () => {
  it.each(WRITING)('%j is written as %s', (value, written) => {
    expect(encodeValue(value)).toBe(written);
    expect(parseEnv(`KEY=${written}`).values.get('KEY')).toBe(value);
  });

  it('keeps the quotes a line already has when the new value fits them', () => {
    expect(encodeValue(', `www.example.org`', "'")).toBe("', `www.example.org`'");
    expect(encodeValue('compose.yml', '"')).toBe('"compose.yml"');
    expect(encodeValue('two words', '')).toBe('"two words"'); // unquoted is for plain values only
  });

  it.each([
    ['a line break', 'a\nB=1'],
    ['a carriage return', 'a\rb'],
    ['a NUL', 'a\0b'],
    ['an apostrophe, a leading quote and a trailing quote', `'it's' "x"`],
    ['an apostrophe, a $ and a trailing backslash', "it's $5\\"],
  ])('refuses a value with %s, saying why', (_why, value) => {
    expect(valueProblem(value)).toMatch(/\w/);
  });

  it('reads back every writable value exactly (2000 random values over the awkward characters)', () => {
    const chars = ['a', 'Z', '0', ' ', '\t', "'", '"', '\\', '$', '{', '}', '#', '`', '=', ':', 'è', '€', 'n', 'A', '_'];
    let seed = 42;
    const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed);
    let written = 0;
    for (let i = 0; i < 2000; i++) {
      const value = Array.from({ length: next() % 12 }, () => chars[next() % chars.length]).join('');
      if (valueProblem(value)) continue;
      const line = `KEY=${encodeValue(value)}`;
      expect(parseEnv(`A=1\n${line}\n`).values.get('KEY'), line).toBe(value);
      written++;
    }
    expect(written).toBeGreaterThan(1500);
  });

  it('changes only the line of the key, and leaves an equal value alone', () => {
    const file = "# Title\nSITE_NAME=\"Alice's\"\n  TITLE = \"Old\"   # shown on top\nexport PORT=80\n";
    expect(applyEnvChanges(file, { set: new Map([['TITLE', 'Old']]), unset: new Set(), overlays: new Map() })).toBe(file);
    const changed = applyEnvChanges(file, { set: new Map([['TITLE', 'Bibliothèque "Ouest"'], ['PORT', '8080']]), unset: new Set(), overlays: new Map() });
    expect(changed).toBe("# Title\nSITE_NAME=\"Alice's\"\n  TITLE = 'Bibliothèque \"Ouest\"'   # shown on top\nexport PORT=8080\n");
    expect(parseEnv(changed).values.get('TITLE')).toBe('Bibliothèque "Ouest"');
  });
});

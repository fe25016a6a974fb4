// abra's -m output as it reaches the node through a pty: the JSON is found in the noise, and no error quotes it.
import { describe, expect, it } from 'vitest';
import { secretSafeError } from '../../app/adapters/abra/commands.ts';
import { AbraError, findJson, parseMachineOutput } from '../../app/adapters/abra/run.ts';

const SECRET = 'Zq7-known-secret-value';
const json = JSON.stringify([{ name: 'db_password', version: 'v1', 'generated name': 'x_db_password_v1', value: SECRET }]);
const isList = (v: unknown): v is unknown[] => Array.isArray(v);

describe('finding the JSON in abra -m output', () => {
  const cases: [string, string[]][] = [
    ['clean', [json]],
    ['a spinner frame before it on the same line', [`⠋ ${json}`]],
    ['carriage-return spinner frames and colours', [`\u001b[?25l⠋ generating…\r⠙ generating…\r\u001b[2K\u001b[32m${json}\u001b[0m\r`]],
    ['log lines before and after, some with brackets', ['WARN [beta] secrets are generated {once}', json, 'INFO done [ok]']],
    ['pretty-printed over several lines', JSON.stringify(JSON.parse(json), null, 2).split('\n')],
    ['an unbalanced bracket in the noise first', ['[=====   progress', json]],
  ];
  for (const [what, lines] of cases) {
    it(`finds it with ${what}`, () => {
      expect(parseMachineOutput(lines, isList)).toEqual(JSON.parse(json));
    });
  }

  it('skips JSON of the wrong shape and takes the one that fits', () => {
    expect(findJson(['{"level":"info"}', json], isList)).toEqual(JSON.parse(json));
  });

  it('says so without quoting any of the output when there is no JSON', () => {
    const lines = [`⠋ ${json.slice(0, -2)}`, 'INFO more'];
    let caught: unknown;
    try {
      parseMachineOutput(lines, isList);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(AbraError);
    expect((caught as AbraError).message).toContain('not the expected JSON');
    expect((caught as AbraError).message).not.toContain(SECRET);
    expect((caught as AbraError).message).not.toContain('db_password');
    expect((caught as AbraError).lines).toEqual([]);
  });
});

describe('a failed secret generate', () => {
  it('keeps only FATA lines, with printed values blotted out, and drops the output', () => {
    const err = secretSafeError(new AbraError('abra failed: …', 1, [json, `FATA could not store ${SECRET}`]));
    expect(err.message).toBe('abra failed: could not store ••••');
    expect(err.lines).toEqual([]);
    expect(err.exitCode).toBe(1);
  });

  it('says only the exit code when abra printed no FATA line (a panic after the JSON)', () => {
    const err = secretSafeError(new AbraError(`abra failed: ${json}`, 2, [json, 'panic: runtime error', 'goroutine 1 [running]:']));
    expect(err.message).toBe('abra failed with exit code 2 (its output is not shown: it may hold secret values)');
    expect(err.message).not.toContain(SECRET);
  });
});


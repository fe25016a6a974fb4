// Services record their own audit (issue #16): no route or middleware writes an audit row, except the generic
// record of a refused request in app/http/audited.ts.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const httpDir = path.join(root, 'app/http');
const ALLOWED = new Set(['app/http/audited.ts']);
const RECORD = /audit\s*\.\s*record\s*\(/;

/** Every .ts file under app/http, as a path from the repository root. */
function httpFiles(): string[] {
  return (readdirSync(httpDir, { recursive: true, withFileTypes: true }) as { name: string; parentPath: string; isFile(): boolean }[])
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

describe('audit rows are written by services', () => {
  it('no file under app/http calls audit.record( except audited.ts', () => {
    const files = httpFiles();
    expect(files).toContain('app/http/routes/auth.ts'); // the walk reaches the routes
    const offenders = files.filter((f) => !ALLOWED.has(f) && RECORD.test(readFileSync(path.join(root, f), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('the pattern finds the one call it allows', () => {
    expect(RECORD.test(readFileSync(path.join(root, 'app/http/audited.ts'), 'utf8'))).toBe(true);
  });
});

/**
 * Comments say why, not how fast a run was: measured times and shares, and issue numbers, live in
 * docs/performance.md and the issue notes. A hand-written hot path points there in one line.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function files(dir: string, ending: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith(ending))
    .map((name) => join(dir, name));
}

/** The comment part of each line: after `//` or `--`, or a line of a block comment. */
function comments(text: string, lua: boolean): Array<{ line: number; text: string }> {
  const out: Array<{ line: number; text: string }> = [];
  text.split('\n').forEach((line, i) => {
    const trimmed = line.trim();
    let comment: string | null = null;
    if (lua) comment = line.includes('--') ? line.slice(line.indexOf('--')) : null;
    else if (/^(\/\*|\*)/.test(trimmed)) comment = trimmed;
    else if (line.includes('// ')) comment = line.slice(line.indexOf('// '));
    if (comment !== null) out.push({ line: i + 1, text: comment });
  });
  return out;
}

/** A measured time (µs, ns), a share (12%), or an issue number. */
export const MEASUREMENT = /\b\d+(?:\.\d+)?\s?(?:µs|us|ns)\b|\d(?:\.\d+)?\s?%|\bissue #?\d+|\(#\d+/i;

describe('comments carry no measurements or issue numbers', () => {
  it('the pattern catches what it must and lets pointers through', () => {
    for (const bad of ['// cost ~2.5% of the CPU', ' * 33.4 against 34.7 µs per announce', '-- (issue #16)', ' * see (#16, the UDP path)', '// 300 ns a miss'])
      assert.match(bad, MEASUREMENT, bad);
    for (const fine of ['// (measured: docs/performance.md, "Hand-written hot paths")', ' * 2 ms slices every reap_interval', '-- 64 KiB at most'])
      assert.doesNotMatch(fine, MEASUREMENT, fine);
  });

  it('in src/ and lua/', () => {
    const found: string[] = [];
    for (const [dir, ending, lua] of [
      ['src', '.ts', false],
      ['lua', '.lua', true],
    ] as const) {
      for (const file of files(dir, ending)) {
        for (const c of comments(readFileSync(join(ROOT, file), 'utf8'), lua)) if (MEASUREMENT.test(c.text)) found.push(`${file}:${c.line}: ${c.text}`);
      }
    }
    assert.deepEqual(found, [], 'move the numbers to docs/performance.md and point there');
  });
});

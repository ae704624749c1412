/**
 * protectDollars against the cases kimi_lab/_dollars.py runs too (tests/fixtures/dollars.json,
 * shared so the two ports cannot drift), plus a few of the sidebar's own.
 */
import { describe, expect, it } from 'vitest';

import { readFileSync } from 'node:fs';

import { LITERAL, protectDollars, splitLines } from '../src/dollars';

interface Case {
  in: string;
  out: string;
  why: string;
}

// labextension/test/ → the repository's tests/fixtures/.
const FIXTURE = new URL('../../tests/fixtures/dollars.json', import.meta.url);
const cases = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Case[];

describe('protectDollars: the shared fixture', () => {
  it('has cases', () => {
    expect(Array.isArray(cases)).toBe(true);
    expect(cases.length).toBeGreaterThan(10);
  });

  it.each(cases.map(c => [c.why, c] as const))('%s', (_why, c) => {
    expect(protectDollars(c.in)).toBe(c.out);
  });
});

describe('protectDollars: the sidebar’s own cases', () => {
  it('leaves a code span in the middle of a line alone', () => {
    expect(protectDollars('and `$x` costs $3')).toBe(`and \`$x\` costs ${LITERAL}3`);
    expect(protectDollars('`$a` and `$b` are $c$')).toBe('`$a` and `$b` are $c$');
  });

  it('takes unclosed backticks for text', () => {
    expect(protectDollars('a ` lone tick, $5')).toBe(`a \` lone tick, ${LITERAL}5`);
  });

  it('keeps a fence that a longer or different run does not close', () => {
    const md = '````\n```\n$5\n````\n$6';
    expect(protectDollars(md)).toBe(`\`\`\`\`\n\`\`\`\n$5\n\`\`\`\`\n${LITERAL}6`);
  });

  it('treats every kind of line end as Python does', () => {
    expect(splitLines('a\r\nb\rc\nd')).toEqual(['a\r\n', 'b\r', 'c\n', 'd']);
    expect(protectDollars('$x\r\ny$')).toBe(`${LITERAL}x\r\ny${LITERAL}`);
  });

  it('a closing dollar before a superscript digit does not close (Python: str.isdigit)', () => {
    expect(protectDollars('$a$² b')).toBe(`${LITERAL}a${LITERAL}² b`);
  });

  it('returns text without dollars as it is', () => {
    const md = 'plain **text**\n\n```\ncode\n```\n';
    expect(protectDollars(md)).toBe(md);
  });
});

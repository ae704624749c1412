/**
 * protectDollars and safeMarkdown against the cases kimi_lab/common/dollars.py runs too
 * (tests/fixtures/dollars.json, tests/fixtures/safe_markdown.json, shared so the two ports cannot
 * drift), plus a few of the sidebar's own.
 */
import { describe, expect, it } from 'vitest';

import { readFileSync } from 'node:fs';

import { inertMarkdown, LITERAL, protectDollars, safeMarkdown, splitLines } from '../src/dollars';

interface Case {
  in: string;
  out: string;
  why: string;
}

// labextension/test/ → the repository's tests/fixtures/.
function fixture(name: string): Case[] {
  return JSON.parse(readFileSync(new URL(`../../tests/fixtures/${name}`, import.meta.url), 'utf8')) as Case[];
}
const cases = fixture('dollars.json');
const safeCases = fixture('safe_markdown.json');

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

  it('digits are ASCII: a closing dollar before a superscript digit still closes', () => {
    expect(protectDollars('$a$² b')).toBe('$a$² b');
    expect(protectDollars('$a$2 b')).toBe(`${LITERAL}a${LITERAL}2 b`);
    expect(protectDollars('$٣ and $x$')).toBe(`${LITERAL}٣ and $x$`);
  });

  it('leaves fences in list items and blockquotes alone', () => {
    expect(protectDollars('- item\n  ```\n  $5\n  ```\n$6')).toBe(`- item\n  \`\`\`\n  $5\n  \`\`\`\n${LITERAL}6`);
    expect(protectDollars('> ```\n> $5\n> ```\n$6')).toBe(`> \`\`\`\n> $5\n> \`\`\`\n${LITERAL}6`);
  });

  it('leaves a possible indented code block alone, but not a nested list item', () => {
    expect(protectDollars('text\n\n    cost = $5\n')).toBe('text\n\n    cost = $5\n');
    expect(protectDollars('- a\n    - costs $5\n')).toBe(`- a\n    - costs ${LITERAL}5\n`);
  });

  it('leaves link destinations as written', () => {
    expect(protectDollars('[$5 deal](https://x.example/?p=$5) for $5')).toBe(
      `[${LITERAL}5 deal](https://x.example/?p=$5) for ${LITERAL}5`
    );
  });

  it('scans a long run of backticks in linear time', () => {
    const line = 'a ' + '`'.repeat(200_000) + ' $5';
    const started = Date.now();
    expect(protectDollars(line)).toBe('a ' + '`'.repeat(200_000) + ` ${LITERAL}5`);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('returns text without dollars as it is', () => {
    const md = 'plain **text**\n\n```\ncode\n```\n';
    expect(protectDollars(md)).toBe(md);
  });
});

describe('safeMarkdown: the shared fixture', () => {
  it('has cases', () => {
    expect(Array.isArray(safeCases)).toBe(true);
    expect(safeCases.length).toBeGreaterThan(5);
  });

  it.each(safeCases.map(c => [c.why, c] as const))('%s', (_why, c) => {
    expect(safeMarkdown(c.in)).toBe(c.out);
  });
});

describe('safeMarkdown: the sidebar’s own cases', () => {
  it('inertMarkdown is safeMarkdown without the dollar escapes', () => {
    const md = '<b>$5</b> ![i](x.png) [j](javascript:x) `<b>` $x$';
    expect(inertMarkdown(md)).toBe('&lt;b>$5&lt;/b> !\\[i](x.png) [j]\\(javascript:x) `<b>` $x$');
    expect(safeMarkdown(md)).toBe(protectDollars(inertMarkdown(md)));
  });

  it('makes an indented line inert too', () => {
    expect(safeMarkdown('text\n\n    <script>x</script> $5\n')).toBe('text\n\n    &lt;script>x&lt;/script> $5\n');
  });

  it('takes Python’s case-insensitive letters for a safe scheme', () => {
    expect(safeMarkdown('[a](HTTPS://x) [b](httpſ://x) [c](MAİLTO:x) [d](Javascript:x)')).toBe(
      '[a](HTTPS://x) [b](httpſ://x) [c](MAİLTO:x) [d]\\(Javascript:x)'
    );
  });

  it('escapes an unsafe link definition, even in a blockquote', () => {
    expect(safeMarkdown('> [1]: <javascript:x>')).toBe('> \\[1]: &lt;javascript:x>');
    expect(safeMarkdown('[1]: https://ok.example')).toBe('[1]: https://ok.example');
  });
});

/** A seeded PRNG (mulberry32), so a failure can be replayed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ATOMS = ['$', ' ', '`', '\\', '<', '>', '!', '[', ']', '(', ')', ':', 'x', '1', '\n', '\t', '*',
  'javascript:', 'https://', '    ', '> ', '```', '~~~', '- ', '$5', '2.50'];

describe('protectDollars and safeMarkdown: properties over generated text', () => {
  const random = mulberry32(20240611);
  const inputs = Array.from({ length: 3000 }, () => {
    const parts: string[] = [];
    const length = Math.floor(random() * 40);
    for (let k = 0; k < length; k++) {
      parts.push(ATOMS[Math.floor(random() * ATOMS.length)]);
    }
    return parts.join('');
  });

  it('never leaves a tag or an image outside code, and only ever adds escapes to dollars', () => {
    for (const md of inputs) {
      const safe = safeMarkdown(md);
      expect(safe).toBe(protectDollars(inertMarkdown(md)));
      // Without the author's own escapes, dollars only gain escapes: undone, the text is the inert text.
      if (!md.includes('\\')) {
        expect(safe.split(LITERAL).join('$')).toBe(inertMarkdown(md));
      }
      // Code (fences, spans, indented lines) is the only place a `<` may stay.
      if (!md.includes('`') && !md.includes('~~~') && !/^(?:[ \t]*>)*(?: {4}|\t)/m.test(md)) {
        expect(safe).not.toContain('<');
        expect(safe).not.toContain('![');
      }
    }
  });

  it('is the identity on text with nothing to escape', () => {
    for (const md of inputs) {
      if (!/[$<!\]]/.test(md)) {
        expect(safeMarkdown(md)).toBe(md);
      }
    }
  });
});

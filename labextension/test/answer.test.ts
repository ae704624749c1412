// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';

import { AnswerView } from '../src/answer';
import { MarkdownCuts } from '../src/cuts';
import { fakeRendermime } from './fakeRendermime';

const tick = () => new Promise(resolve => setTimeout(resolve, 0));

/** Wait, task by task (bounded), until `done()` holds. */
async function until(done: () => boolean, tasks = 500): Promise<void> {
  for (let i = 0; i < tasks && !done(); i++) {
    await tick();
  }
  expect(done()).toBe(true);
}

function cutsOf(text: string, chunk = text.length): number[] {
  const cuts = new MarkdownCuts();
  for (let i = 0; i < text.length; i += chunk) {
    cuts.scan(text.slice(0, i + chunk));
  }
  return cuts.cuts;
}

/** The text at each cut, for readable expectations. */
function cutLines(text: string): string[] {
  return cutsOf(text).map(c => text.slice(c).split('\n')[0]);
}

describe('MarkdownCuts', () => {
  it('cuts before a top-level block that follows a blank line', () => {
    const text = '# Title\n\nFirst paragraph\nstill first.\n\n- a\n- b\n\nLast line\n';
    expect(cutLines(text)).toEqual(['First paragraph', '- a', 'Last line']);
  });

  it('never cuts inside a code fence, even across blank lines', () => {
    const text = 'Intro\n\n```python\nx = 1\n\ny = 2\n~~~\n\nz = 3\n```\n\nAfter\n\n~~~~\na\n\n```\nb\n~~~~\n\nEnd\n';
    expect(cutLines(text)).toEqual(['```python', 'After', '~~~~', 'End']);
  });

  it('keeps indented continuations (list paragraphs, indented fences) with their block', () => {
    const text = '1. Step\n\n   more about it\n\n   ```\n   code\n\n   more code\n   ```\n\n2. Next\n';
    expect(cutLines(text)).toEqual(['2. Next']);
  });

  it('does not take inline code with three backticks for a fence', () => {
    const text = 'A\n\n```x``` inline\n\nB\n';
    expect(cutLines(text)).toEqual(['```x``` inline', 'B']);
  });

  it('finds the same cuts whatever the chunking', () => {
    const text = 'P one\n\n```\nq\n\nr\n```\n\n- s\n\n  t\n\nU\n\n~~~\n\n~~~\n\nV';
    const whole = cutsOf(text);
    for (const chunk of [1, 2, 3, 5, 7]) {
      expect(cutsOf(text, chunk)).toEqual(whole);
    }
  });
});

describe('AnswerView', () => {
  it('renders finished sections while the tail streams as plain text, in order', async () => {
    const calls: string[] = [];
    const view = new AnswerView(fakeRendermime(calls), () => true);
    view.update('First paragraph.\n\nSecond ', false);
    expect(view.node.textContent).toBe('First paragraph.\n\nSecond ');
    await until(() => calls.length === 1);
    expect(calls).toEqual(['First paragraph.\n\n']);
    await tick();
    view.update('First paragraph.\n\nSecond paragraph.\n\nThird', false);
    await until(() => calls.length === 2);
    await tick();
    const sections = [...view.node.querySelectorAll('.kimi-answer-rendered')].map(n => n.textContent);
    expect(sections).toEqual(['First paragraph.', 'Second paragraph.']);
    expect(view.node.querySelector('.kimi-answer-plain')?.textContent).toBe('Third');
    expect(view.node.hasAttribute('data-rendered')).toBe(false);
    view.update('First paragraph.\n\nSecond paragraph.\n\nThird.', true);
    await until(() => view.node.hasAttribute('data-rendered'));
    expect(calls[2]).toBe('Third.');
    expect(view.node.textContent).toBe('First paragraph.Second paragraph.Third.');
  });

  it('renders a long finished answer in bounded sections, one per task', async () => {
    const calls: string[] = [];
    const view = new AnswerView(fakeRendermime(calls), () => true);
    const paragraph = 'word '.repeat(80).trim() + '\n\n';
    const text = paragraph.repeat(200) + 'The end.';
    view.update(text, true); // a restored history arrives whole
    expect(view.node.textContent).toBe(text); // all of it readable at once, as plain text
    for (let i = 0; i < 10; i++) {
      await Promise.resolve(); // microtasks only: the same task
    }
    expect(calls.length).toBe(1);
    await until(() => view.node.hasAttribute('data-rendered'));
    expect(calls.join('')).toBe(text);
    expect(Math.max(...calls.map(c => c.length))).toBeLessThan(3000 + paragraph.length);
    expect(calls.length).toBeGreaterThan(10);
    expect(view.node.querySelectorAll('.kimi-mod-pending')).toHaveLength(0);
  });

  it('starts over when the text is not a continuation (the result replaces the stream)', async () => {
    const calls: string[] = [];
    const view = new AnswerView(fakeRendermime(calls), () => true);
    view.update('Thinking…', false);
    view.update('Alpha.\n\nBeta', false);
    await until(() => calls.length === 1);
    view.update('Gamma.', true);
    await until(() => view.node.hasAttribute('data-rendered'));
    expect(view.node.textContent).toBe('Gamma.');
    expect(view.node.querySelectorAll('.kimi-answer-section')).toHaveLength(1);
  });

  it('offers copy-to-new-cell on code blocks of every section', async () => {
    const inserted: string[] = [];
    const view = new AnswerView(fakeRendermime(), code => (inserted.push(code), true));
    const one = 'One:\n```python\nprint(1)\n```\n\n';
    view.update(one + 'Tw', false);
    await until(() => view.node.querySelectorAll('.kimi-answer-rendered').length === 1);
    view.update(one + 'Two:\n```python\nprint(2)\n```\n', true);
    await until(() => view.node.hasAttribute('data-rendered'));
    const buttons = [...view.node.querySelectorAll('.kimi-copy-cell')] as HTMLButtonElement[];
    buttons.forEach(b => b.click());
    expect(inserted).toEqual(['print(1)', 'print(2)']);
  });
});

describe('AnswerView link definitions', () => {
  it('renders sections again with the link definitions of the whole answer', async () => {
    const calls: string[] = [];
    const view = new AnswerView(fakeRendermime(calls), () => true);
    const first = 'See [the docs][1] for more.\n\n';
    view.update(first + 'Middle', false);
    await until(() => calls.length === 1);
    view.update(first + 'Middle paragraph.\n\n[1]: https://example.org/docs\n', true);
    await until(() => view.node.hasAttribute('data-rendered'));
    expect(calls).toContain(first + '\n\n[1]: https://example.org/docs\n');
    expect(view.node.querySelectorAll('.kimi-answer-section')).toHaveLength(2);
    expect(view.node.textContent).toContain('See [the docs][1] for more.');
  });

  it('leaves sections alone when the answer defines no links', async () => {
    const calls: string[] = [];
    const view = new AnswerView(fakeRendermime(calls), () => true);
    view.update('One [a] b.\n\nTwo', false);
    await until(() => calls.length === 1);
    view.update('One [a] b.\n\nTwo.', true);
    await until(() => view.node.hasAttribute('data-rendered'));
    expect(calls).toEqual(['One [a] b.\n\n', 'Two.']);
  });
});

describe('AnswerView money and math', () => {
  it('renders money as literal dollars and typesets the math once the section is on the page', async () => {
    const calls: string[] = [];
    const typeset: HTMLElement[] = [];
    const rendermime = Object.assign(fakeRendermime(calls), {
      latexTypesetter: { typeset: (node: HTMLElement) => void typeset.push(node) }
    });
    const view = new AnswerView(rendermime, () => true);
    document.body.append(view.node);
    view.update('East leads by $1.2k; the average unit price is $4.50.\n\nThe area is $x^2$.', true);
    await until(() => view.node.hasAttribute('data-rendered'));
    expect(calls.join('')).toBe('East leads by \\\\$1.2k; the average unit price is \\\\$4.50.\n\nThe area is $x^2$.');
    expect(typeset.length).toBeGreaterThan(0);
    expect(typeset.every(node => node.isConnected)).toBe(true);
    view.node.remove();
  });

  it('leaves dollars alone when there is no typesetter (no MathJax to show an escape as `$`)', async () => {
    const calls: string[] = [];
    const view = new AnswerView(fakeRendermime(calls), () => true);
    view.update('It costs $4.50.', true);
    await until(() => view.node.hasAttribute('data-rendered'));
    expect(calls).toEqual(['It costs $4.50.']);
  });

  it('does not typeset text without math delimiters', async () => {
    const typeset: HTMLElement[] = [];
    const rendermime = Object.assign(fakeRendermime(), { latexTypesetter: { typeset: (n: HTMLElement) => void typeset.push(n) } });
    const view = new AnswerView(rendermime, () => true);
    document.body.append(view.node);
    view.update('Plain words only.', true);
    await until(() => view.node.hasAttribute('data-rendered'));
    expect(typeset).toEqual([]);
    view.node.remove();
  });
});

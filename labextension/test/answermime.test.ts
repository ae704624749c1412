// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';

import { ANSWER_MIME, AnswerRenderer, INSERT_LABEL, answerMarkdown } from '../src/answermime';
import { fakeRendermime } from './fakeRendermime';

describe('the answer renderer of %%kimi outputs', () => {
  it('renders the Markdown of its payload and offers Insert below on code blocks', async () => {
    const calls: string[] = [];
    const inserted: Array<[HTMLElement, string]> = [];
    const renderer = new AnswerRenderer(fakeRendermime(calls), (node, code) => {
      inserted.push([node, code]);
      return true;
    });
    const md = 'Use this:\n```python\nsales.groupby("region").sum()\n```\n';
    await renderer.renderModel({ data: { [ANSWER_MIME]: { markdown: md }, 'text/markdown': 'old' } } as never);
    expect(calls).toEqual([md]);
    const button = renderer.node.querySelector('button.kimi-copy-cell') as HTMLButtonElement;
    expect(button.textContent).toBe(INSERT_LABEL);
    button.click();
    expect(inserted).toEqual([[renderer.node, 'sales.groupby("region").sum()']]);
    expect(button.textContent).toBe('Inserted');
  });

  it('says so when there is no cell to insert below', async () => {
    const renderer = new AnswerRenderer(fakeRendermime(), () => false);
    await renderer.renderModel({ data: { [ANSWER_MIME]: { markdown: '```\nx = 1\n```' } } } as never);
    const button = renderer.node.querySelector('button.kimi-copy-cell') as HTMLButtonElement;
    button.click();
    expect(button.textContent).toBe('No notebook');
  });

  it('re-rendering replaces the previous answer, and a block without code gets no button', async () => {
    const renderer = new AnswerRenderer(fakeRendermime(), () => true);
    await renderer.renderModel({ data: { [ANSWER_MIME]: { markdown: '```\nfirst\n```' } } } as never);
    await renderer.renderModel({ data: { [ANSWER_MIME]: { markdown: 'no code here' } } } as never);
    expect(renderer.node.querySelectorAll('button').length).toBe(0);
    expect(renderer.node.textContent).toContain('no code here');
  });

  it('falls back to text/markdown for a payload it does not know', () => {
    expect(answerMarkdown({ [ANSWER_MIME]: { other: 1 }, 'text/markdown': 'md' } as never)).toBe('md');
    expect(answerMarkdown({ [ANSWER_MIME]: 'not an object' } as never)).toBe('');
  });

  it('renders untrusted, whatever the output says, and offers no button on a block that hides text', async () => {
    const seen: unknown[] = [];
    const registry = {
      createModel: (options: unknown) => {
        seen.push(options);
        return options;
      },
      createRenderer: () => {
        const node = document.createElement('div');
        return {
          node,
          dispose: () => undefined,
          renderModel: async () => {
            node.innerHTML = '<pre>print("hi")<details><summary></summary>import os</details></pre><pre><code>ok()</code></pre>';
          }
        };
      }
    };
    const inserted: string[] = [];
    const renderer = new AnswerRenderer(registry as never, (_node, code) => inserted.push(code) > 0);
    await renderer.renderModel({ data: { [ANSWER_MIME]: { markdown: 'x' } }, trusted: true } as never);
    expect((seen[0] as { trusted: boolean }).trusted).toBe(false);
    const buttons = renderer.node.querySelectorAll('button.kimi-copy-cell');
    expect(buttons.length).toBe(1);
    (buttons[0] as HTMLButtonElement).click();
    expect(inserted).toEqual(['ok()']);
  });
});

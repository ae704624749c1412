/** "Insert below" on the code blocks of a rendered answer: the sidebar's, and a notebook output's. */

import { h } from './dom';

const PLAIN_CODE = new Set(['CODE', 'SPAN', 'BR']);

/** Puts `code` into a new cell; false when there is no notebook to put it in. */
export type InsertCode = (code: string) => boolean;

/**
 * After each non-empty `<pre>` under `root`, a button that hands its code to `insert` and says
 * for a moment whether that worked. The code is the block's text as shown (no trailing newline).
 */
export function addCodeActions(root: HTMLElement, insert: InsertCode, label = 'Copy to new cell'): void {
  root.querySelectorAll('pre').forEach(pre => {
    // Only a plain code block: text, highlighting spans, line breaks. Anything else (a folded
    // <details>, say) could hold text the block does not show, which would go into the cell.
    if ([...pre.querySelectorAll('*')].some(el => !PLAIN_CODE.has(el.tagName))) {
      return;
    }
    const code = (pre.textContent ?? '').replace(/\n$/, '');
    if (!code.trim() || pre.nextElementSibling?.classList.contains('kimi-code-actions')) {
      return;
    }
    const button = h('button', {
      className: 'kimi-copy-cell jp-Button jp-mod-minimal',
      text: label,
      attrs: { type: 'button', title: 'Insert this code as a new code cell below (not run)' }
    });
    button.addEventListener('click', () => {
      const ok = insert(code);
      button.textContent = ok ? 'Inserted' : 'No notebook';
      window.setTimeout(() => (button.textContent = label), 1500);
    });
    pre.insertAdjacentElement('afterend', h('div', { className: 'kimi-code-actions' }, button));
  });
}

// @vitest-environment happy-dom
import { beforeAll, describe, expect, it, vi } from 'vitest';

import type { ToolCard } from '../src/reducer';
import { ToolCardView, detailText } from '../src/toolcard';
import { count, isShown, loadCss } from './harness';

/** What the kernel sends for a denied call (kimi_lab/tools/runner.py): as preview and as error. */
const DENIED = 'the user declined this call; do not retry it unchanged';

function card(fields: Partial<ToolCard>): ToolCard {
  return {
    kind: 'tool',
    id: 'c1',
    index: null,
    name: 'run_python',
    arguments: '{"code": "x = 41"}',
    status: 'running',
    preview: '',
    duration: null,
    error: null,
    shown: null,
    warning: null,
    ...fields
  };
}

function mount(onApprove = vi.fn()) {
  const view = new ToolCardView(onApprove);
  // A 300 px sidebar: the card's column is narrower still.
  const sidebar = document.createElement('div');
  sidebar.className = 'kimi-panel';
  sidebar.style.width = '300px';
  sidebar.append(view.node);
  document.body.append(sidebar);
  return { view, onApprove };
}

const buttons = (view: ToolCardView) => [...view.node.querySelectorAll('.kimi-tool-buttons button')] as HTMLButtonElement[];

const ACCEPT = 'rgb(1, 2, 3)';
const WARN = 'rgb(4, 5, 6)';

beforeAll(() => {
  loadCss();
  document.documentElement.style.setProperty('--jp-accept-color-normal', ACCEPT);
  document.documentElement.style.setProperty('--jp-warn-color-normal', WARN);
  document.documentElement.style.setProperty('--jp-border-width', '1px');
});

describe('ToolCardView approval buttons', () => {
  it('are JupyterLab styled buttons: Allow in the accept colour, Deny in the warn colour', () => {
    const { view } = mount();
    view.update(card({ status: 'pending' }), true);
    const [allow, deny, always] = buttons(view);
    expect([allow, deny, always].map(b => b.textContent)).toEqual(['Allow', 'Deny', 'Always allow']);
    for (const b of [allow, deny, always]) {
      expect(b.classList.contains('jp-Button')).toBe(true);
      expect(b.classList.contains('jp-mod-styled')).toBe(true);
      expect(b.type).toBe('button');
    }
    expect(allow.classList.contains('jp-mod-accept')).toBe(true);
    expect(deny.classList.contains('jp-mod-warn')).toBe(true);
    // The theme's colours, through JupyterLab's own rules (the test theme defines them).
    expect(getComputedStyle(allow).background).toContain(ACCEPT);
    expect(getComputedStyle(deny).background).toContain(WARN);
    // Always allow is styled too (outlined in the accept colour), not a bare default button.
    expect(always.classList.contains('kimi-tool-always')).toBe(true);
    expect(getComputedStyle(always).color).toBe(ACCEPT);
    expect(getComputedStyle(always).boxShadow).toContain(ACCEPT);
    expect(always.title).toBe('Allow run_python for the rest of this session');
  });

  it('wrap in a narrow sidebar instead of overflowing the card', () => {
    const { view } = mount();
    view.update(card({ status: 'pending' }), true);
    const row = view.node.querySelector('.kimi-tool-buttons') as HTMLElement;
    expect(getComputedStyle(row).display).toBe('flex');
    expect(getComputedStyle(row).flexWrap).toBe('wrap');
    for (const b of buttons(view)) {
      const style = getComputedStyle(b);
      // JupyterLab's button.jp-mod-styled is 32 px high with a 32 px line: a label that needs a
      // second line would spill out of it.
      expect(style.height).toBe('auto');
      expect(style.whiteSpace).toBe('normal');
      expect(style.maxWidth).toBe('100%');
    }
  });

  it('send the answer once and disable themselves', () => {
    const { view, onApprove } = mount();
    view.update(card({ status: 'pending' }), true);
    const [, , always] = buttons(view);
    always.click();
    expect(onApprove).toHaveBeenCalledWith('c1', 'always');
    expect(buttons(view).every(b => b.disabled)).toBe(true);
  });

  it('are gone once the call is answered', () => {
    const { view } = mount();
    view.update(card({ status: 'pending' }), true);
    expect(isShown(view.node.querySelector('.kimi-tool-buttons'))).toBe(true);
    view.update(card({ status: 'running' }), false);
    expect(buttons(view)).toHaveLength(0);
    // `.kimi-tool-buttons { display: flex }` must not override the hidden attribute.
    expect(isShown(view.node.querySelector('.kimi-tool-buttons'))).toBe(false);
  });
});

describe('ToolCardView denied and failed calls', () => {
  it('shows the denial once (the kernel sends it as both preview and error)', () => {
    const { view } = mount();
    view.update(card({ status: 'denied', preview: DENIED, error: DENIED, duration: 0.2 }), false);
    expect(view.node.querySelector('.kimi-tool-status')?.textContent).toBe('denied');
    expect(view.node.querySelector('.kimi-tool-preview')?.textContent).toBe(DENIED);
    expect(count(view.node.textContent, 'the user declined')).toBe(1);
  });

  it('shows the denial once while only the streamed tool_end (preview, no error) arrived', () => {
    const { view } = mount();
    view.update(card({ status: 'denied', preview: DENIED }), false);
    expect(count(view.node.textContent, 'the user declined')).toBe(1);
  });

  it('shows a long error once, in full, when the preview is its first 400 characters', () => {
    const error = `error: run_python raised ValueError: ${'x'.repeat(600)}`;
    const { view } = mount();
    view.update(card({ status: 'error', preview: `${error.slice(0, 400)}…`, error }), false);
    expect(view.node.querySelector('.kimi-tool-preview')?.textContent).toBe(error);
  });

  it('keeps both texts when they differ', () => {
    expect(detailText('timed out', 'partial output')).toBe('timed out\npartial output');
    expect(detailText(null, 'ok value')).toBe('ok value');
    expect(detailText('boom', '')).toBe('boom');
    expect(detailText('boom', 'error: boom')).toBe('error: boom');
  });
});

/** What the kernel's approval_view sends for code that hides a line behind a carriage return. */
const SHOWN = "1 │ reviews.describe()␍\n2 │ open('notes.txt', 'w').write('pwned')  # <img src=x onerror=alert(1)>";
const WARNING = '⚠ 1 hidden character, shown marked: CARRIAGE RETURN ␍ (line 1).';

describe('ToolCardView approval text', () => {
  const raw = JSON.stringify({ code: "reviews.describe()\ropen('notes.txt', 'w').write('pwned')" });

  it("shows the kernel's approval text, as text, with its warning above it", () => {
    const { view } = mount();
    view.update(card({ status: 'pending', arguments: raw, shown: SHOWN, warning: WARNING }), true);
    const args = view.node.querySelector('.kimi-tool-args') as HTMLElement;
    expect(args.textContent).toBe(SHOWN);
    expect(args.children).toHaveLength(0); // rendered as text: the <img> is characters, not an element
    expect(view.node.querySelector('img')).toBeNull();
    const warning = view.node.querySelector('.kimi-tool-warning') as HTMLElement;
    expect(warning.textContent).toBe(WARNING);
    expect(isShown(warning)).toBe(true);
    expect(warning.compareDocumentPosition(args) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    expect(view.node.textContent).not.toContain('\r');
  });

  it('keeps showing what was approved once the call runs, and has no warning for a clean call', () => {
    const { view } = mount();
    view.update(card({ status: 'running', arguments: raw, shown: SHOWN, warning: null }), false);
    expect(view.node.querySelector('.kimi-tool-args')?.textContent).toBe(SHOWN);
    expect((view.node.querySelector('.kimi-tool-warning') as HTMLElement).hidden).toBe(true);
  });

  it('shows all of a pending call: no scroll limit on its arguments, long lines wrap', () => {
    const { view } = mount();
    view.update(card({ status: 'pending', shown: SHOWN }), true);
    const style = getComputedStyle(view.node.querySelector('.kimi-tool-args') as HTMLElement);
    expect(style.maxHeight).toBe('none');
    expect(style.whiteSpace).toBe('pre-wrap');
    view.update(card({ status: 'ok', shown: SHOWN }), false);
    expect(getComputedStyle(view.node.querySelector('.kimi-tool-args') as HTMLElement).maxHeight).toBe('120px');
  });
});

// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

vi.mock('../src/icon', () => ({ kimiIcon: undefined }));

import { KimiClient } from '../src/client';
import { KimiPanel } from '../src/panel';
import { FakeKernel, asKernel, type Data } from './fakeKernel';
import { fakeRendermime, flushFrames, pendingFrames, stubFrames, tick } from './harness';
import { approval, askResult, reasoningEvent } from './messages';
import { Widget } from '@lumino/widgets';

beforeEach(stubFrames);
afterEach(() => vi.unstubAllGlobals());

async function setup() {
  const kernel = new FakeKernel({ loaded: true });
  const client = new KimiClient(asKernel(kernel));
  const inserted: string[] = [];
  const panel = new KimiPanel({ rendermime: fakeRendermime(), insertCode: code => (inserted.push(code), true) });
  panel.bind({ notebook: 'Analysis.ipynb', chat: 'work/Analysis', client });
  await tick();
  expect(kernel.sent).toEqual([]); // nothing reaches the kernel until the sidebar is first shown
  Widget.attach(panel, document.body);
  panel.hide();
  panel.show(); // what JupyterLab's side area does when the user opens the sidebar
  await tick();
  await tick();
  flushFrames();
  return { kernel, client, panel, inserted };
}

function typeAndEnter(panel: KimiPanel, text: string, shift = false) {
  const input = panel.node.querySelector('textarea') as HTMLTextAreaElement;
  input.value = text;
  input.dispatchEvent(new Event('input'));
  input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', shiftKey: shift, bubbles: true }));
}

describe('KimiPanel', () => {
  it('says which notebook it is bound to and restores the history on bind', async () => {
    const { kernel, panel } = await setup();
    expect(panel.node.querySelector('.kimi-bound')?.textContent).toContain('Analysis.ipynb');
    expect(kernel.sent.map(m => m.type)).toEqual(expect.arrayContaining(['hello', 'history', 'providers']));
    expect(kernel.sent.find(m => m.type === 'history')?.chat).toBe('work/Analysis');
    const options = [...panel.node.querySelectorAll('.kimi-providers option')].map(o => o.textContent);
    expect(options).toEqual(['Kernel default', 'moonshot · kimi-k2-thinking']);
  });

  it('suggests the models the provider lists in the model box', async () => {
    const { kernel, panel } = await setup();
    await tick();
    const model = panel.node.querySelector('.kimi-model') as HTMLInputElement;
    const list = panel.node.querySelector('.kimi-model-list') as HTMLDataListElement;
    expect(model.getAttribute('list')).toBe(list.id);
    expect([...list.querySelectorAll('option')].map(o => o.value)).toEqual(['kimi-k2.6', 'kimi-k3']);
    const select = panel.node.querySelector('.kimi-providers') as HTMLSelectElement;
    select.value = 'moonshot';
    select.dispatchEvent(new Event('change'));
    await tick();
    expect(kernel.sent.filter(m => m.type === 'models').map(m => m.provider)).toEqual([undefined, 'moonshot']);
  });

  it('asks with the chosen provider, and with the typed model over the preset one', async () => {
    const { kernel, panel } = await setup();
    const select = panel.node.querySelector('.kimi-providers') as HTMLSelectElement;
    const model = panel.node.querySelector('.kimi-model') as HTMLInputElement;
    typeAndEnter(panel, 'default');
    await tick();
    expect(kernel.sent.filter(m => m.type === 'ask')[0].options).toEqual({});
    const finish = (ask: Data) => kernel.emit({ type: 'result', request_id: ask.request_id as string, result: askResult({ content: 'ok', reasoning: '' }) });
    finish(kernel.sent.filter(m => m.type === 'ask')[0]);
    select.value = 'moonshot';
    select.dispatchEvent(new Event('change'));
    expect(model.placeholder).toBe('kimi-k2-thinking');
    typeAndEnter(panel, 'preset');
    await tick();
    const asks = () => kernel.sent.filter(m => m.type === 'ask');
    expect(asks()[1].options).toMatchObject({ provider: 'moonshot', model: 'kimi-k2-thinking' });
    finish(asks()[1]);
    model.value = 'kimi-k2-thinking-turbo';
    typeAndEnter(panel, 'typed');
    await tick();
    expect(asks()[2].options).toMatchObject({ provider: 'moonshot', model: 'kimi-k2-thinking-turbo' });
  });

  it('sends on Enter, not on Shift+Enter', async () => {
    const { kernel, panel } = await setup();
    typeAndEnter(panel, 'line one', true);
    await tick();
    expect(kernel.sent.filter(m => m.type === 'ask')).toHaveLength(0);
    typeAndEnter(panel, 'What is in df?');
    await tick();
    const asks = kernel.sent.filter(m => m.type === 'ask');
    expect(asks).toHaveLength(1);
    expect(asks[0]).toMatchObject({ chat: 'work/Analysis', prompt: 'What is in df?' });
  });

  it('applies messages at once but renders at most once per frame', async () => {
    const { kernel, panel } = await setup();
    typeAndEnter(panel, 'long');
    await tick();
    const rid = (kernel.sent.find((m: Data) => m.type === 'ask') as Data).request_id as string;
    flushFrames();
    for (let i = 0; i < 2000; i++) {
      kernel.emit({ type: 'events', request_id: rid, events: [i % 2 ? { type: 'content', text: 'x' } : reasoningEvent('x')] });
    }
    expect(panel.state?.turns[0].answer.length).toBe(1000);
    expect(pendingFrames()).toBe(1);
    expect(panel.node.querySelector('.kimi-answer-plain')?.textContent).not.toContain('x');
    flushFrames();
    expect(panel.node.querySelector('.kimi-answer-plain')?.textContent).toBe('x'.repeat(1000));
    expect(panel.node.querySelector('.kimi-reasoning-text')?.textContent).toBe('x'.repeat(1000));
  });

  it('shows approval buttons and sends the answer with the ask id', async () => {
    const { kernel, panel } = await setup();
    typeAndEnter(panel, 'write it');
    await tick();
    const rid = (kernel.sent.find((m: Data) => m.type === 'ask') as Data).request_id as string;
    kernel.emit({ type: 'events', request_id: rid, events: [{ type: 'tool_start', id: 'c1', name: 'write_file', arguments: '{"path":"a.txt"}' }] });
    kernel.emit(approval({ request_id: rid, call_id: 'c1', name: 'write_file', arguments: { path: 'a.txt' } }));
    flushFrames();
    const buttons = [...panel.node.querySelectorAll('.kimi-tool-buttons button')] as HTMLButtonElement[];
    expect(buttons.map(b => b.textContent)).toEqual(['Allow', 'Deny', 'Always allow']);
    buttons[2].click();
    await tick();
    expect(kernel.sent[kernel.sent.length - 1]).toEqual({ type: 'approve', request_id: rid, call_id: 'c1', answer: 'always' });
    flushFrames();
    expect(panel.node.querySelectorAll('.kimi-tool-buttons button')).toHaveLength(0);
  });

  it('shows the approval as the kernel made it visible, never the raw code that hides a line', async () => {
    const { kernel, panel } = await setup();
    typeAndEnter(panel, 'describe the reviews');
    await tick();
    const rid = (kernel.sent.find((m: Data) => m.type === 'ask') as Data).request_id as string;
    const code = "reviews.describe()\ropen('notes.txt', 'w').write('pwned')\r\u001b[2K\u001b[1Areviews.describe()";
    const display = "1 │ reviews.describe()␍\n2 │ open('notes.txt', 'w').write('pwned')␍\n3 │ ␛[2K␛[1Areviews.describe()";
    const warning = '⚠ 4 hidden characters, shown marked: CARRIAGE RETURN ␍ (lines 1, 2); ESCAPE ␛ (line 3).';
    kernel.emit({ type: 'events', request_id: rid, events: [{ type: 'tool_start', id: 'c1', name: 'run_python', arguments: JSON.stringify({ code }) }] });
    kernel.emit({ type: 'approval', request_id: rid, call_id: 'c1', name: 'run_python', arguments: { code }, display, warning });
    flushFrames();
    const card = panel.node.querySelector('.kimi-tool') as HTMLElement;
    expect(card.querySelector('.kimi-tool-args')?.textContent).toBe(display);
    expect(card.querySelector('.kimi-tool-warning')?.textContent).toBe(warning);
    expect(card.textContent).not.toMatch(/[\r\u001b]/);
    expect(card.querySelectorAll('.kimi-tool-buttons button')).toHaveLength(3);
  });

  it('renders the result as Markdown with copy-to-cell on code blocks, plus tokens and cost', async () => {
    const { kernel, panel, inserted } = await setup();
    typeAndEnter(panel, 'code please');
    await tick();
    const rid = (kernel.sent.find((m: Data) => m.type === 'ask') as Data).request_id as string;
    kernel.emit({ type: 'events', request_id: rid, events: [{ type: 'content', text: 'partial' }] });
    kernel.emit({
      type: 'result',
      request_id: rid,
      result: askResult({
        content: 'Here:\n```python\nprint(1)\n```',
        reasoning: '',
        usage: { prompt: 1200, completion: 34, cached: 0, reasoning: 10 },
        cost: 0.0042,
        model: 'kimi-k2-thinking',
        provider: 'moonshot',
        finish_reason: 'stop'
      })
    });
    flushFrames();
    await tick();
    const button = panel.node.querySelector('.kimi-copy-cell') as HTMLButtonElement;
    expect(button).not.toBeNull();
    button.click();
    expect(inserted).toEqual(['print(1)']);
    expect(panel.node.querySelector('.kimi-footer')?.textContent).toBe('Tokens: 1,200 in · 34 out · 10 reasoning · Cost: $0.0042');
    const stop = [...panel.node.querySelectorAll('button')].find(b => b.textContent === 'Stop') as HTMLButtonElement;
    expect(stop.disabled).toBe(true);
  });

  it('switches conversations with the notebook', async () => {
    const { client, panel } = await setup();
    typeAndEnter(panel, 'first notebook');
    await tick();
    panel.bind({ notebook: 'Other.ipynb', chat: 'Other', client });
    await tick();
    flushFrames();
    expect(panel.state?.chat).toBe('Other');
    expect(panel.node.querySelectorAll('.kimi-turn')).toHaveLength(0);
    panel.bind({ notebook: 'Analysis.ipynb', chat: 'work/Analysis', client });
    await tick();
    flushFrames();
    expect(panel.node.querySelector('.kimi-prompt')?.textContent).toBe('first notebook');
  });
});

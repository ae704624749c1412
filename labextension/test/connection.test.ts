// @vitest-environment happy-dom
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

vi.mock('../src/icon', () => ({ kimiIcon: undefined }));

import { Widget } from '@lumino/widgets';

import { KimiClient, NOT_INSTALLED } from '../src/client';
import { KimiPanel } from '../src/panel';
import { FakeKernel, asKernel, type Data } from './fakeKernel';
import { count, fakeRendermime, flushFrames, isShown, loadCss, stubFrames, tick } from './harness';
import { approval, askResult } from './messages';

beforeAll(loadCss);
beforeEach(stubFrames);
afterEach(() => {
  vi.unstubAllGlobals();
  document.body.replaceChildren();
});

/** A panel bound to a notebook whose kernel is `kernel`, opened by the user (so it connects). */
async function open(kernel: FakeKernel) {
  const client = new KimiClient(asKernel(kernel));
  const panel = new KimiPanel({ rendermime: fakeRendermime(), insertCode: () => true });
  panel.bind({ notebook: 'Analysis.ipynb', chat: 'work/Analysis', client });
  Widget.attach(panel, document.body);
  panel.hide();
  panel.show();
  await settle();
  return { client, panel };
}

async function settle() {
  for (let i = 0; i < 4; i++) {
    await tick();
  }
  flushFrames();
}

const connectionText = (panel: KimiPanel) => panel.node.querySelector('.kimi-connection-text')?.textContent ?? '';

/** The Retry button as a user finds it: a button named Retry in the connection row, displayed. */
function retry(panel: KimiPanel): HTMLButtonElement | null {
  const button = [...panel.node.querySelectorAll('.kimi-connection button')].find(b => b.textContent === 'Retry');
  return isShown(button) ? (button as HTMLButtonElement) : null;
}

describe('the connection row', () => {
  it('has no Retry button while connected', async () => {
    const { client, panel } = await open(new FakeKernel({ loaded: true }));
    expect(client.status).toBe('ready');
    expect(connectionText(panel)).toBe('kimi_lab 0.1 · moonshot/kimi-k2-thinking');
    expect(retry(panel)).toBeNull();
    expect(panel.node.querySelector('.kimi-connection button')).toBeNull();
  });

  it('offers Retry after connecting failed, and drops it once Retry connects', async () => {
    const kernel = new FakeKernel({ loaded: false, installed: false });
    const { client, panel } = await open(kernel);
    expect(client.status).toBe('error');
    expect(connectionText(panel)).toBe(NOT_INSTALLED);
    const button = retry(panel);
    expect(button).not.toBeNull();

    kernel.loaded = true; // the user installed kimi_lab and loaded it
    button!.click();
    await settle();
    expect(client.status).toBe('ready');
    expect(connectionText(panel)).toContain('kimi_lab 0.1');
    expect(retry(panel)).toBeNull();
  });

  it('offers Retry when the kernel connection drops, not once it is back', async () => {
    const kernel = new FakeKernel({ loaded: true });
    const { panel } = await open(kernel);
    expect(retry(panel)).toBeNull();
    kernel.connectionStatusChanged.emit('disconnected');
    await settle();
    expect(connectionText(panel)).toBe('Not connected (the kernel restarted?).');
    expect(retry(panel)).not.toBeNull();
    kernel.connectionStatusChanged.emit('connected'); // the client re-opens the comm by itself
    await settle();
    expect(connectionText(panel)).toContain('kimi_lab 0.1');
    expect(retry(panel)).toBeNull();
  });
});

describe('a denied tool call in the panel', () => {
  it('shows its status once and the kernel’s denial text once', async () => {
    const kernel = new FakeKernel({ loaded: true });
    const { panel } = await open(kernel);
    const input = panel.node.querySelector('textarea') as HTMLTextAreaElement;
    input.value = 'Set x to 41';
    input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
    await tick();
    const rid = (kernel.sent.find((m: Data) => m.type === 'ask') as Data).request_id as string;
    kernel.emit({ type: 'events', request_id: rid, events: [{ type: 'tool_start', id: 'c1', name: 'run_python', arguments: '{"code":"x = 41"}' }] });
    kernel.emit(approval({ request_id: rid, call_id: 'c1', name: 'run_python', arguments: { code: 'x = 41' } }));
    flushFrames();
    const deny = [...panel.node.querySelectorAll('.kimi-tool-buttons button')].find(b => b.textContent === 'Deny') as HTMLButtonElement;
    deny.click();
    await tick();
    expect(kernel.sent[kernel.sent.length - 1]).toMatchObject({ type: 'approve', call_id: 'c1', answer: 'no' });

    // What kimi_lab's bridge sends for it: a tool_end with the runner's text as preview, then
    // the result, whose tool_calls carry the same text as `error`.
    const denial = 'the user declined this call; do not retry it unchanged';
    kernel.emit({
      type: 'events',
      request_id: rid,
      events: [{ type: 'tool_end', id: 'c1', name: 'run_python', status: 'denied', preview: denial, duration: 0.25 }]
    });
    flushFrames();
    const card = panel.node.querySelector('.kimi-tool') as HTMLElement;
    expect(count(card.textContent, denial)).toBe(1);
    kernel.emit({
      type: 'result',
      request_id: rid,
      result: askResult({
        content: 'You declined, so x was not set.',
        tool_calls: [{ id: 'c1', name: 'run_python', arguments: { code: 'x = 41' }, error: denial, duration: 0.25 }]
      })
    });
    flushFrames();
    await tick();
    expect(card.dataset.status).toBe('denied');
    expect(card.querySelector('.kimi-tool-status')?.textContent).toBe('denied');
    expect(count(card.textContent, denial)).toBe(1);
    expect(count(panel.node.textContent, denial)).toBe(1);
    expect(card.querySelectorAll('button')).toHaveLength(0);
  });
});

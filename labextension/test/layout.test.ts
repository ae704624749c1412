// @vitest-environment happy-dom
/**
 * The sidebar's layout rules in base.css that happy-dom can check: a disabled button looks
 * disabled (the idle Stop is not a live red button), and the turn's two columns stack in a
 * narrow sidebar through a container query. happy-dom does no layout and ignores @container
 * when computing styles, so the query itself is checked in the CSSOM; the browser tests see it
 * applied (tests_browser/_page.py: columns_stacked).
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

vi.mock('../src/icon', () => ({ kimiIcon: undefined }));

import { Widget } from '@lumino/widgets';

import { KimiClient } from '../src/client';
import { KimiPanel } from '../src/panel';
import { newTurn, type Turn } from '../src/reducer';
import { TurnView } from '../src/turn';
import { FakeKernel, asKernel } from './fakeKernel';
import { fakeRendermime, flushFrames, isShown, loadCss, stubFrames, tick } from './harness';

const WARN = 'rgb(4, 5, 6)';
const ACCEPT = 'rgb(1, 2, 3)';
const GREY = 'rgb(7, 8, 9)';

beforeAll(() => {
  loadCss();
  const root = document.documentElement.style;
  root.setProperty('--jp-warn-color-normal', WARN);
  root.setProperty('--jp-accept-color-normal', ACCEPT);
  root.setProperty('--jp-layout-color3', GREY);
});
beforeEach(stubFrames);
afterEach(() => {
  vi.unstubAllGlobals();
  document.body.replaceChildren();
});

async function openPanel() {
  const kernel = new FakeKernel({ loaded: true });
  const panel = new KimiPanel({ rendermime: fakeRendermime(), insertCode: () => true });
  panel.bind({ notebook: 'Analysis.ipynb', chat: 'Analysis', client: new KimiClient(asKernel(kernel)) });
  Widget.attach(panel, document.body);
  panel.hide();
  panel.show();
  await tick();
  await tick();
  flushFrames();
  const button = (label: string) => [...panel.node.querySelectorAll('button')].find(b => b.textContent === label) as HTMLButtonElement;
  return { kernel, panel, stop: button('Stop'), send: button('Send') };
}

describe('disabled sidebar buttons', () => {
  it('the idle Stop is greyed, not the warn colour, with a not-allowed cursor', async () => {
    const { stop } = await openPanel();
    expect(stop.disabled).toBe(true);
    expect(stop.classList.contains('jp-mod-warn')).toBe(true);
    const style = getComputedStyle(stop);
    expect(style.background).not.toContain(WARN);
    expect(style.background).toContain(GREY);
    expect(style.cursor).toBe('not-allowed');
    expect(Number(style.opacity)).toBeLessThan(1);
  });

  it('Send with nothing typed is greyed too; once typed it is the accept colour again', async () => {
    const { panel, send } = await openPanel();
    expect(send.disabled).toBe(true);
    expect(getComputedStyle(send).background).not.toContain(ACCEPT);
    const input = panel.node.querySelector('textarea') as HTMLTextAreaElement;
    input.value = 'What is in df?';
    input.dispatchEvent(new Event('input'));
    flushFrames();
    expect(send.disabled).toBe(false);
    const style = getComputedStyle(send);
    expect(style.background).toContain(ACCEPT);
    expect(style.cursor).not.toBe('not-allowed');
    expect(style.opacity === '' || style.opacity === '1').toBe(true);
  });

  it('a running turn enables Stop in the warn colour', async () => {
    const { panel, stop } = await openPanel();
    const input = panel.node.querySelector('textarea') as HTMLTextAreaElement;
    input.value = 'long question';
    input.dispatchEvent(new Event('input'));
    input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
    await tick();
    flushFrames();
    expect(stop.disabled).toBe(false);
    expect(getComputedStyle(stop).background).toContain(WARN);
    expect(getComputedStyle(stop).cursor).not.toBe('not-allowed');
  });
});

function turn(fields: Partial<Turn>): Turn {
  return {
    ...newTurn('Which region sells most?', 'r1'),
    steps: [{ kind: 'reasoning', text: 'Group by region and sum.' }],
    answer: 'North.',
    streamDone: true,
    done: true,
    ...fields
  };
}

/** The rules inside `@container <name> (...)` blocks of the loaded CSS. */
function containerRules(name: string): { condition: string; rules: CSSStyleRule[] }[] {
  const found: { condition: string; rules: CSSStyleRule[] }[] = [];
  for (const sheet of [...document.styleSheets]) {
    for (const rule of [...sheet.cssRules]) {
      if (rule instanceof CSSContainerRule && rule.conditionText.includes(name)) {
        found.push({ condition: rule.conditionText, rules: [...rule.cssRules] as CSSStyleRule[] });
      }
    }
  }
  return found;
}

describe('turn layout by sidebar width', () => {
  it('the messages area is a named inline-size container', async () => {
    const { panel } = await openPanel();
    const messages = panel.node.querySelector('.kimi-messages') as HTMLElement;
    const style = getComputedStyle(messages);
    expect(style.getPropertyValue('container-type') || style.getPropertyValue('container')).toContain('inline-size');
    expect(style.getPropertyValue('container-name') || style.getPropertyValue('container')).toContain('kimi-messages');
  });

  it('side by side by default: reasoning column beside the answer', () => {
    const view = new TurnView(fakeRendermime(), () => true, () => undefined);
    document.body.append(view.node);
    view.update(turn({}));
    const columns = view.node.querySelector('.kimi-columns') as HTMLElement;
    expect(getComputedStyle(columns).gridTemplateColumns).toBe('minmax(0, 1fr) minmax(0, 1.4fr)');
    expect(columns.firstElementChild?.tagName).toBe('DETAILS'); // first: above the answer when stacked
  });

  it('stacked (one column) when the messages area is under ~480 px', () => {
    const queries = containerRules('kimi-messages');
    expect(queries).toHaveLength(1);
    const [{ condition, rules }] = queries;
    const limit = Number(/max-width:\s*(\d+)px/.exec(condition)?.[1]);
    expect(limit).toBeGreaterThan(440);
    expect(limit).toBeLessThan(480);
    const columns = rules.find(r => r.selectorText === '.kimi-columns');
    expect(columns?.style.getPropertyValue('grid-template-columns')).toBe('minmax(0, 1fr)');
  });

  it('the reasoning stays a collapsible <details> and folding it leaves the answer one column', () => {
    const view = new TurnView(fakeRendermime(), () => true, () => undefined);
    document.body.append(view.node);
    view.update(turn({}));
    const details = view.node.querySelector('details.kimi-reasoning') as HTMLDetailsElement;
    expect(details.querySelector('summary')?.textContent).toContain('Reasoning');
    expect(details.open).toBe(true);
    details.open = false;
    details.dispatchEvent(new Event('toggle'));
    const columns = view.node.querySelector('.kimi-columns') as HTMLElement;
    expect(columns.classList.contains('kimi-mod-collapsed')).toBe(true);
    expect(getComputedStyle(columns).gridTemplateColumns).toBe('minmax(0, 1fr)');
    expect(isShown(view.node.querySelector('.kimi-answer'))).toBe(true);
  });
});

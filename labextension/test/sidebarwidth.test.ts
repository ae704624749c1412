// @vitest-environment happy-dom
/** The sidebar's area is widened from JupyterLab's ~250 px once, on its first show. */
import { describe, expect, it } from 'vitest';

import { BoxPanel, Widget } from '@lumino/widgets';

import { DEFAULT_WIDTH_PX, handleFor, pageFlag, targetWidth, widenOnce } from '../src/sidebarwidth';

describe('targetWidth', () => {
  it('widens a narrow area to about 420 px, keeping most of a small screen for the notebook', () => {
    expect(targetWidth(250, 1400)).toBe(DEFAULT_WIDTH_PX);
    expect(targetWidth(250, 800)).toBe(360);
    expect(targetWidth(250, 500)).toBeNull(); // no room to gain
    expect(targetWidth(380, 1400)).toBeNull(); // already usable (the user's width)
    expect(targetWidth(0, 1400)).toBeNull(); // not laid out
  });
});

describe('handleFor', () => {
  it('moves the handle left of a right-hand area, or right of a left-hand one', () => {
    const split = { left: 33 };
    expect(handleFor(2, 3, { left: 1217, right: 1467 }, split, 420)).toEqual({ handle: 1, position: 1467 - 420 - 33 - 1 });
    expect(handleFor(0, 3, { left: 33, right: 283 }, split, 420)).toEqual({ handle: 0, position: 420 });
    expect(handleFor(1, 3, { left: 300, right: 900 }, split, 420)).toBeNull();
  });
});

/** A horizontal split with a left area, the main area and a right area holding the panel. */
function shell(areaWidth: number) {
  const moves: [number, number][] = [];
  const split = new BoxPanel() as BoxPanel & { orientation: string };
  split.orientation = 'horizontal';
  (split.layout as unknown as { moveHandle: (i: number, p: number) => void }).moveHandle = (i, p) => moves.push([i, p]);
  const right = new BoxPanel();
  const panel = new Widget();
  right.addWidget(panel);
  split.addWidget(new Widget());
  split.addWidget(new Widget());
  split.addWidget(right);
  Widget.attach(split, document.body);
  const box = (left: number, width: number) => () => ({ left, right: left + width, width, top: 0, bottom: 0, height: 0, x: left, y: 0, toJSON: () => ({}) });
  split.node.getBoundingClientRect = box(0, 1500);
  right.node.getBoundingClientRect = box(1500 - areaWidth, areaWidth);
  return { split, panel, moves };
}

describe('widenOnce', () => {
  it('drags the split handle once, then leaves the width to the user', async () => {
    const { panel, moves, split } = shell(250);
    const flag = pageFlag();
    await widenOnce(panel, flag);
    expect(moves).toEqual([[1, 1500 - 420 - 1]]);
    expect(await flag.get()).toBe(true);
    await widenOnce(panel, flag);
    expect(moves).toHaveLength(1);
    split.dispose();
  });

  it('leaves a usable width alone (and remembers that it looked)', async () => {
    const { panel, moves, split } = shell(450);
    const flag = pageFlag();
    await widenOnce(panel, flag);
    expect(moves).toEqual([]);
    expect(await flag.get()).toBe(true);
    split.dispose();
  });

  it('does nothing outside a split panel', async () => {
    const panel = new Widget();
    Widget.attach(panel, document.body);
    const flag = pageFlag();
    await widenOnce(panel, flag);
    expect(await flag.get()).toBe(false);
    panel.dispose();
  });
});

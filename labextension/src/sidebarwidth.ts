/**
 * A usable width the first time the sidebar opens. JupyterLab gives a side area about 250 px,
 * which cuts the chat's header and model box and squeezes every answer; the first time the
 * panel is shown narrower than NARROW_PX it widens its area to DEFAULT_WIDTH_PX, as a user
 * dragging the split handle would. Once done (remembered in the workspace), the user's own
 * width is left alone: JupyterLab's layout restorer brings it back on every load.
 *
 * Works wherever the panel sits in a horizontal Lumino SplitPanel (JupyterLab's main split,
 * Notebook 7's side panels); anywhere else it does nothing.
 */

import type { Widget } from '@lumino/widgets';

export const DEFAULT_WIDTH_PX = 420;
/** Narrower than this on first show: widen. */
export const NARROW_PX = 360;
/** The main area keeps at least this share of the split. */
const MAIN_SHARE = 0.55;

/** Remembers that the sidebar was widened once (the workspace's state database in JupyterLab). */
export interface WidenedFlag {
  get(): Promise<boolean>;
  set(): Promise<void>;
}

/** A flag for this page only (no state database). */
export function pageFlag(): WidenedFlag {
  let done = false;
  return {
    get: async () => done,
    set: async () => {
      done = true;
    }
  };
}

interface SplitLike extends Widget {
  orientation: string;
  widgets: readonly Widget[];
  layout: Widget['layout'] & { moveHandle(index: number, position: number): void };
}

function isHorizontalSplit(w: Widget): w is SplitLike {
  const split = w as unknown as { orientation?: unknown; widgets?: unknown; layout?: { moveHandle?: unknown } | null };
  return split.orientation === 'horizontal' && Array.isArray(split.widgets) && typeof split.layout?.moveHandle === 'function';
}

/**
 * The split handle position that makes the area at `index` (of `count`) `want` px wide, or
 * null when it sits in the middle (no single handle decides its width). Positions are relative
 * to the split's left edge, as Lumino's SplitLayout.moveHandle takes them.
 */
export function handleFor(
  index: number,
  count: number,
  area: { left: number; right: number },
  split: { left: number },
  want: number
): { handle: number; position: number } | null {
  if (index === count - 1 && index > 0) {
    return { handle: index - 1, position: Math.round(area.right - want - split.left - 1) };
  }
  if (index === 0 && count > 1) {
    return { handle: 0, position: Math.round(area.left - split.left + want) };
  }
  return null;
}

/** How wide to make an area `current` px wide in a split `total` px wide; null: leave it. */
export function targetWidth(current: number, total: number): number | null {
  if (current <= 0 || current >= NARROW_PX) {
    return null;
  }
  const want = Math.min(DEFAULT_WIDTH_PX, Math.round(total * (1 - MAIN_SHARE)));
  return want > current + 8 ? want : null;
}

/** Widen `panel`'s side area once (see the module comment); resolves when done or not needed. */
export async function widenOnce(panel: Widget, flag: WidenedFlag): Promise<void> {
  if (await flag.get()) {
    return;
  }
  let split: SplitLike | null = null;
  for (let w = panel.parent; w; w = w.parent) {
    if (isHorizontalSplit(w)) {
      split = w;
      break;
    }
  }
  if (!split || !panel.isVisible) {
    return;
  }
  const index = split.widgets.findIndex(w => w.node.contains(panel.node));
  if (index < 0) {
    return;
  }
  const areaRect = split.widgets[index].node.getBoundingClientRect();
  const splitRect = split.node.getBoundingClientRect();
  if (areaRect.width <= 0) {
    return; // not laid out yet: the next show decides
  }
  const want = targetWidth(areaRect.width, splitRect.width);
  const move = want === null ? null : handleFor(index, split.widgets.length, areaRect, splitRect, want);
  if (move) {
    split.layout.moveHandle(move.handle, move.position);
  }
  await flag.set(); // shown once at a usable width (or found one): from now on it is the user's
}

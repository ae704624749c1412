/**
 * Scroll-follow for the message list: keep its end in view while turns and answers grow,
 * until the user scrolls up to read; then leave the list where it is (and offer a way back)
 * until they return to the end or ask for it.
 *
 * The decision is pure (ScrollFollow: scroll positions in, "follow or not" out) so it is tested
 * without layout; FollowScroller wires it to a scrolling element, a ResizeObserver (answers grow
 * without any event the list sees: sections render, MathJax typesets) and a "Jump to latest" button.
 */

import { h } from './dom';

export interface ScrollMetrics {
  scrollTop: number;
  scrollHeight: number;
  clientHeight: number;
}

/** Within this many px of the end counts as at the end (rounding, a line being laid out). */
export const BOTTOM_SLACK = 24;

export function atBottom(m: ScrollMetrics, slack = BOTTOM_SLACK): boolean {
  return m.scrollHeight - m.scrollTop - m.clientHeight <= slack;
}

/**
 * Whether the list follows its end. Content growing never fires a scroll event (scrollTop does
 * not change), and the list's own pinning scrolls down; so a scroll event that moved up, away
 * from the end, can only be the user (or the browser clamping a shrinking list, which leaves it
 * at the end). Scrolling back to the end resumes following.
 */
export class ScrollFollow {
  get following(): boolean {
    return this._following;
  }

  /** A scroll event happened; `m` is the position after it. */
  scrolled(m: ScrollMetrics): void {
    if (atBottom(m)) {
      this._following = true;
    } else if (m.scrollTop < this._lastTop - 1) {
      this._following = false;
    }
    this._lastTop = m.scrollTop;
  }

  /** The user asked to read upwards (wheel up, Page Up, …) even if nothing moved yet. */
  userScrolledUp(m: ScrollMetrics): void {
    if (m.scrollHeight > m.clientHeight) {
      this._following = false;
    }
  }

  /** Follow again (a new question, Jump to latest, another chat shown). */
  resume(): void {
    this._following = true;
  }

  /** The list was pinned at its end: remember where, so the next scroll event compares to it. */
  pinned(m: ScrollMetrics): void {
    this._lastTop = m.scrollTop;
  }

  /** Whether to offer "Jump to latest": the user left the end of a list that has one. */
  offerJump(m: ScrollMetrics): boolean {
    return !this._following && !atBottom(m);
  }

  private _following = true;
  private _lastTop = 0;
}

/**
 * Whether a wheel up over `target` scrolls a box inside the list (the reasoning, a wide code
 * block) rather than the list: reading there is no reason to stop following.
 */
export function innerScrollTakes(target: EventTarget | null, list: HTMLElement): boolean {
  for (let el = target instanceof Element ? target : null; el && el !== list; el = el.parentElement) {
    if (el.scrollTop > 0 && el.scrollHeight > el.clientHeight && /(auto|scroll)/.test(getComputedStyle(el).overflowY)) {
      return true;
    }
  }
  return false;
}

/** Keys that scroll a focused list upwards. */
const UP_KEYS = new Set(['ArrowUp', 'PageUp', 'Home']);

/** The scrolling list, its follow state and its Jump to latest button. */
export class FollowScroller {
  constructor(readonly list: HTMLElement) {
    this.jump.hidden = true;
    this.jump.addEventListener('click', () => this.jumpToLatest());
    list.addEventListener('scroll', () => {
      this._follow.scrolled(list);
      this._renderJump();
    }, { passive: true });
    list.addEventListener('wheel', event => {
      if (event.deltaY < 0 && !innerScrollTakes(event.target, list)) {
        this._follow.userScrolledUp(list);
        this._renderJump();
      }
    }, { passive: true });
    list.addEventListener('keydown', event => {
      if (UP_KEYS.has(event.key) && event.target === list) {
        this._follow.userScrolledUp(list);
      }
    });
    if (typeof ResizeObserver !== 'undefined') {
      // Fires before paint for every size change of the list or of an observed child.
      this._observer = new ResizeObserver(() => this.settle());
      this._observer.observe(list);
    }
  }

  /** "↓ Jump to latest": placed by the owner inside the list's area. */
  readonly jump = h('button', {
    className: 'jp-Button jp-mod-styled kimi-jump-latest',
    text: '↓ Jump to latest',
    attrs: { type: 'button', title: 'Scroll to the latest message and follow the answer again' }
  });

  get following(): boolean {
    return this._follow.following;
  }

  /** Watch `child` for growth (a turn whose answer renders later). */
  observe(child: Element): void {
    this._observer?.observe(child);
  }

  unobserve(child: Element): void {
    this._observer?.unobserve(child);
  }

  /** Follow again from now on, and go to the end. */
  jumpToLatest(): void {
    this._follow.resume();
    this.settle();
  }

  /** After a change of content: keep the end in view when following; show or hide the button. */
  settle(): void {
    const list = this.list;
    if (this._follow.following && list.scrollHeight - list.scrollTop - list.clientHeight > 0.5) {
      list.scrollTop = list.scrollHeight;
    }
    if (this._follow.following) {
      this._follow.pinned(list);
    }
    this._renderJump();
  }

  dispose(): void {
    this._observer?.disconnect();
  }

  private _renderJump(): void {
    const offer = this._follow.offerJump(this.list);
    if (this.jump.hidden === offer) {
      this.jump.hidden = !offer;
    }
  }

  private readonly _follow = new ScrollFollow();
  private _observer: ResizeObserver | null = null;
}

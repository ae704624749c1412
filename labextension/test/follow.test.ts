// @vitest-environment happy-dom
/**
 * Scroll-follow: the decision (ScrollFollow) on scroll positions, and the list wiring
 * (FollowScroller) with scroll metrics set by hand (happy-dom does no layout).
 */
import { describe, expect, it } from 'vitest';

import { FollowScroller, ScrollFollow, atBottom, innerScrollTakes, type ScrollMetrics } from '../src/follow';

const at = (scrollTop: number, scrollHeight = 2000, clientHeight = 500): ScrollMetrics => ({ scrollTop, scrollHeight, clientHeight });

describe('ScrollFollow', () => {
  it('follows from the start and while at the end', () => {
    const f = new ScrollFollow();
    expect(f.following).toBe(true);
    f.scrolled(at(1500));
    expect(f.following).toBe(true);
    expect(atBottom(at(1480))).toBe(true); // a few px short still counts as the end
    expect(atBottom(at(1400))).toBe(false);
  });

  it('stops when the user scrolls up, and the list stays where the user put it as it grows', () => {
    const f = new ScrollFollow();
    f.pinned(at(1500));
    f.scrolled(at(900));
    expect(f.following).toBe(false);
    expect(f.offerJump(at(900))).toBe(true);
    // The answer grows: no scroll event, scrollTop unchanged, still not following.
    expect(f.offerJump(at(900, 2600))).toBe(true);
    expect(f.following).toBe(false);
  });

  it('a scroll that did not go up (the browser clamping, anchoring) does not stop following', () => {
    const f = new ScrollFollow();
    f.pinned(at(1500));
    f.scrolled(at(1500, 3000)); // grew by 1000 before the next pin: not at the end, not moved up
    expect(f.following).toBe(true);
  });

  it('resumes when the user returns to the end, or asks for it', () => {
    const f = new ScrollFollow();
    f.pinned(at(1500));
    f.scrolled(at(200));
    expect(f.following).toBe(false);
    f.scrolled(at(1500));
    expect(f.following).toBe(true);
    f.scrolled(at(100));
    f.resume();
    expect(f.following).toBe(true);
    expect(f.offerJump(at(100))).toBe(false);
  });

  it('a wheel up stops following only when there is something to scroll', () => {
    const f = new ScrollFollow();
    f.userScrolledUp(at(0, 300, 500));
    expect(f.following).toBe(true);
    f.userScrolledUp(at(1500));
    expect(f.following).toBe(false);
  });
});

/** A list whose scroll metrics the test sets; scrollTop is clamped as a browser does. */
function fakeList(height = 500) {
  const list = document.createElement('div');
  let content = 0;
  let top = 0;
  Object.defineProperty(list, 'clientHeight', { get: () => height });
  Object.defineProperty(list, 'scrollHeight', { get: () => Math.max(content, height) });
  Object.defineProperty(list, 'scrollTop', {
    get: () => top,
    set: (v: number) => {
      top = Math.max(0, Math.min(v, Math.max(content, height) - height));
    }
  });
  return {
    list,
    grow(px: number) {
      content += px;
    },
    userScroll(to: number) {
      list.scrollTop = to;
      list.dispatchEvent(new Event('scroll'));
    }
  };
}

describe('FollowScroller', () => {
  it('keeps the end in view as content grows, until the user scrolls up; Jump to latest brings it back', () => {
    const fake = fakeList();
    const s = new FollowScroller(fake.list);
    document.body.append(fake.list, s.jump);
    fake.grow(1200);
    s.settle();
    expect(fake.list.scrollTop).toBe(700);
    expect(s.jump.hidden).toBe(true);

    fake.userScroll(300); // reading above
    expect(s.following).toBe(false);
    expect(s.jump.hidden).toBe(false);
    expect(s.jump.textContent).toBe('↓ Jump to latest');
    fake.grow(400); // a streamed delta
    s.settle();
    expect(fake.list.scrollTop).toBe(300); // not moved

    s.jump.click();
    expect(fake.list.scrollTop).toBe(1100);
    expect(s.following).toBe(true);
    expect(s.jump.hidden).toBe(true);
    fake.grow(100);
    s.settle();
    expect(fake.list.scrollTop).toBe(1200);
  });

  it('scrolling back down to the end hides the button and follows again', () => {
    const fake = fakeList();
    const s = new FollowScroller(fake.list);
    fake.grow(2000);
    s.settle();
    fake.userScroll(100);
    expect(s.jump.hidden).toBe(false);
    fake.userScroll(1500);
    expect(s.jump.hidden).toBe(true);
    expect(s.following).toBe(true);
  });

  it('a wheel up stops following before the list has moved', () => {
    const fake = fakeList();
    const s = new FollowScroller(fake.list);
    fake.grow(2000);
    s.settle();
    fake.list.dispatchEvent(new WheelEvent('wheel', { deltaY: -100 }));
    expect(s.following).toBe(false);
    fake.grow(300);
    s.settle();
    expect(fake.list.scrollTop).toBe(1500);
  });
});

describe('innerScrollTakes', () => {
  it('a wheel over a scrolled inner box (the reasoning) scrolls that box, not the list', () => {
    const list = document.createElement('div');
    const steps = document.createElement('div');
    const line = document.createElement('div');
    steps.style.overflowY = 'auto';
    steps.append(line);
    list.append(steps);
    document.body.append(list);
    Object.defineProperty(steps, 'scrollHeight', { value: 900 });
    Object.defineProperty(steps, 'clientHeight', { value: 300 });
    Object.defineProperty(steps, 'scrollTop', { value: 200, configurable: true });
    expect(innerScrollTakes(line, list)).toBe(true);
    Object.defineProperty(steps, 'scrollTop', { value: 0, configurable: true }); // at its top: the list scrolls
    expect(innerScrollTakes(line, list)).toBe(false);
    expect(innerScrollTakes(list, list)).toBe(false);
    list.remove();
  });
});

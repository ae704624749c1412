/**
 * Shared by the happy-dom view tests: JupyterLab's real button CSS plus the sidebar's own,
 * the rendermime stand-in, and requestAnimationFrame frames the test flushes by hand.
 */
import { vi } from 'vitest';

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// Read as text: vitest turns CSS imports (even `?raw`) into empty strings.
const read = (path: string) => readFileSync(path.startsWith('.') ? new URL(path, import.meta.url) : require.resolve(path), 'utf8');

/**
 * Put JupyterLab's `.jp-Button` / `button.jp-mod-styled` / accept-warn rules and the sidebar's
 * base.css into the document, so getComputedStyle answers as in JupyterLab (no layout, though).
 * happy-dom has no user-agent `[hidden] { display: none }` rule: computed `display` shows what
 * the author CSS does, which is what decides in a browser once a rule sets `display`.
 */
export function loadCss(): void {
  if (document.getElementById('kimi-test-css')) {
    return;
  }
  const style = document.createElement('style');
  style.id = 'kimi-test-css';
  style.textContent = [
    read('@jupyterlab/ui-components/style/base.css').replace(/^@import .*$/gm, ''), // .jp-Button
    read('@jupyterlab/ui-components/style/styling.css'), // button.jp-mod-styled
    read('@jupyterlab/application/style/buttons.css'), // jp-mod-accept / -reject / -warn
    read('../style/base.css')
  ].join('\n');
  document.head.append(style);
}

/** What a user sees of `el`: in the document and no ancestor is display:none or [hidden]. */
export function isShown(el: Element | null | undefined): boolean {
  if (!el || !el.isConnected) {
    return false;
  }
  for (let e: Element | null = el; e; e = e.parentElement) {
    if (getComputedStyle(e).display === 'none') {
      return false;
    }
  }
  return true;
}

export { fakeRendermime } from './fakeRendermime';

export const tick = () => new Promise(resolve => setTimeout(resolve, 0));

let frames: FrameRequestCallback[] = [];

/** Stub requestAnimationFrame: callbacks wait for flushFrames(). Call in beforeEach. */
export function stubFrames(): void {
  frames = [];
  vi.stubGlobal('requestAnimationFrame', (cb: FrameRequestCallback) => {
    frames.push(cb);
    return frames.length;
  });
  vi.stubGlobal('cancelAnimationFrame', () => undefined);
}

/** Animation frames requested and not run yet. */
export function pendingFrames(): number {
  return frames.length;
}

export function flushFrames(): number {
  const run = frames;
  frames = [];
  run.forEach(cb => cb(0));
  return run.length;
}

/** Occurrences of `needle` in `text`. */
export function count(text: string | null | undefined, needle: string): number {
  return (text ?? '').split(needle).length - 1;
}

/** Small DOM and formatting helpers shared by the views (and the client's error text). */

export type Child = Node | string | null | undefined | false;

/** Create an element with class names, attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { className?: string; attrs?: Record<string, string>; text?: string } = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.className) {
    el.className = props.className;
  }
  if (props.attrs) {
    for (const [k, v] of Object.entries(props.attrs)) {
      el.setAttribute(k, v);
    }
  }
  if (props.text !== undefined) {
    el.textContent = props.text;
  }
  for (const child of children) {
    if (child) {
      el.append(child);
    }
  }
  return el;
}

/** Set text only when it changed (cheap when called every frame). */
export function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) {
    el.textContent = text;
  }
}

const STREAM_BLOCK = 2000;

interface StreamState {
  text: string;
  last: Text | null;
  lastLength: number;
}

const streams = new WeakMap<HTMLElement, StreamState>();

/**
 * Streamed text: append only what is new, in blocks that start after a line end once a block
 * holds STREAM_BLOCK characters. Rewriting the whole text every frame made the browser lay out
 * the whole answer every frame (a long task for a 20,000-token answer); now only the last
 * block changes. Falls back to a rebuild when the text is not an extension of what is shown.
 */
export function streamText(el: HTMLElement, text: string): void {
  let state = streams.get(el);
  if (!state || !text.startsWith(state.text) || (state.text && !el.firstChild)) {
    el.replaceChildren();
    state = { text: '', last: null, lastLength: 0 };
    streams.set(el, state);
  }
  let rest = text.slice(state.text.length);
  while (rest) {
    if (!state.last) {
      state.last = document.createTextNode('');
      el.append(h('div', { className: 'kimi-stream-block' }, state.last));
      state.lastLength = 0;
    }
    let take = rest;
    if (state.lastLength + rest.length > STREAM_BLOCK) {
      const end = rest.indexOf('\n', Math.max(0, STREAM_BLOCK - state.lastLength));
      take = end >= 0 ? rest.slice(0, end + 1) : rest;
    }
    state.last.appendData(take);
    state.lastLength += take.length;
    rest = rest.slice(take.length);
    if (rest) {
      state.last = null;
    }
  }
  state.text = text;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** `1 turn`, `2 turns`, `1,200 turns`. */
export function plural(n: number, word: string): string {
  return `${formatCount(n)} ${word}${n === 1 ? '' : 's'}`;
}

export function formatCost(cost: number | null): string {
  if (cost === null) {
    return '';
  }
  return cost < 0.01 ? `$${cost.toFixed(4)}` : `$${cost.toFixed(3)}`;
}

export function formatSeconds(s: number | null): string {
  if (s === null) {
    return '';
  }
  return s < 1 ? `${Math.round(s * 1000)} ms` : `${s.toFixed(1)} s`;
}

/** A thrown value as text for the user: its `message` if it has one (Error or not). */
export function errorText(error: unknown): string {
  const message = (error as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' ? message : String(error);
}

/** Tool arguments pretty-printed when they are JSON. */
export function prettyArguments(args: string): string {
  if (!args) {
    return '';
  }
  try {
    return JSON.stringify(JSON.parse(args), null, 2);
  } catch {
    return args;
  }
}

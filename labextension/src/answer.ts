/**
 * The answer column: Markdown rendered with JupyterLab's rendermime (code highlighting
 * included) section by section while the answer streams, with a "copy to new cell" action on
 * every code block. Math is typeset with JupyterLab's MathJax once a section is on the page;
 * money ($4.50) is kept as text first (see dollars.ts).
 *
 * Why sections: rendering a 20,000-token answer as one document at the end is one ~170 ms
 * main-thread task. Instead the text is cut at block boundaries (see cuts.ts); each finished
 * section is shown as plain text at once and swapped for its rendering, one section per task.
 * The unfinished tail is plain text appended per frame, so the newest text is never held back.
 */

import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';

import { addCodeActions, type InsertCode } from './codeactions';
import { MarkdownCuts } from './cuts';
import { inertMarkdown, safeMarkdown } from './dollars';
import { h, streamText } from './dom';

/** Inserts code as a new cell in the bound notebook; false when there is none. */
export type { InsertCode } from './codeactions';

/** Sections are grouped up to about this many characters when more than one is ready at once. */
const SECTION_CHARS = 3000;

/** A link reference definition (`[1]: https://…`): it applies to the whole document. */
const DEFINITION = /^ {0,3}\[[^\]\n]+\]:[ \t]*\S.*$/gm;

interface Section {
  text: string;
  /** What shows it now: its plain text, then its rendering. */
  node: HTMLElement;
  /** For a render again with link definitions: the section it replaces the rendering of. */
  owner?: Section;
  renderer?: { dispose(): void };
}

export class AnswerView {
  constructor(
    private readonly rendermime: IRenderMimeRegistry,
    private readonly insertCode: InsertCode
  ) {
    this.node = h('div', { className: 'kimi-answer' }, this._tail);
  }

  readonly node: HTMLDivElement;

  update(text: string, done: boolean): void {
    if (text === this._text && done === this._done) {
      return;
    }
    if (!text.startsWith(this._text.slice(0, this._committed))) {
      this._reset();
    }
    this._text = text;
    this._done = done;
    this._cuts.scan(text);
    this._advance();
  }

  dispose(): void {
    this._disposed = true;
    this._reset();
  }

  /** Commit what is ready into sections, show the rest as the tail, render what is queued. */
  private _advance(): void {
    const text = this._text;
    const end = this._done ? text.length : this._busy ? -1 : this._cuts.lastCut(this._committed, text.length);
    if (end > this._committed) {
      this._commit(end);
    }
    streamText(this._tail, text.slice(this._committed));
    if (this._done && this._committed === text.length && !this._linked) {
      this._linkSections();
    }
    if (!this._busy && this._queue.length) {
      void this._pump(this._generation);
    }
    this._markRendered();
  }

  /**
   * Reference-style links (`[text][1]` with `[1]: url` further down) resolve only inside one
   * Markdown document: once the answer is complete, sections that use a label defined in
   * another section render again with the definitions appended.
   */
  private _linkSections(): void {
    this._linked = true;
    const definitions = this._text.match(DEFINITION);
    if (!definitions || this._sections.length < 2) {
      return;
    }
    const appendix = '\n\n' + definitions.join('\n') + '\n';
    for (const section of this._sections) {
      if (/\]\s?\[|\][^(:[]|\]$/m.test(section.text) && !definitions.every(d => section.text.includes(d))) {
        this._queue.push({ text: section.text + appendix, node: section.node, owner: section });
      }
    }
  }

  /** Cut [committed, end) into sections of about SECTION_CHARS at the known cuts. */
  private _commit(end: number): void {
    let start = this._committed;
    for (const cut of this._cuts.cuts) {
      if (cut > start && cut < end && cut - start >= SECTION_CHARS) {
        this._addSection(start, cut);
        start = cut;
      }
    }
    this._addSection(start, end);
    this._committed = end;
  }

  private _addSection(start: number, end: number): void {
    const text = this._text.slice(start, end);
    const node = h('div', { className: 'kimi-answer-section kimi-mod-pending', text });
    this._tail.before(node);
    const section = { text, node };
    this._sections.push(section);
    this._queue.push(section);
  }

  /** Render queued sections in order, one per task, so no task renders the whole answer. */
  private async _pump(generation: number): Promise<void> {
    this._busy = true;
    while (this._queue.length && generation === this._generation) {
      await this._render(this._queue.shift() as Section, generation);
      if (this._queue.length) {
        await nextTask();
      }
    }
    if (generation === this._generation) {
      this._busy = false;
      this._advance(); // sections that became ready while this one rendered
    }
  }

  private async _render(section: Section, generation: number): Promise<void> {
    if (!section.text.trim()) {
      section.node.classList.remove('kimi-mod-pending');
      return;
    }
    const renderer = this.rendermime.createRenderer('text/markdown');
    // Escaped dollars are shown as `$` by MathJax; without a typesetter there is nothing to escape from.
    const markdown = this.rendermime.latexTypesetter ? safeMarkdown(section.text) : inertMarkdown(section.text);
    const model = this.rendermime.createModel({ data: { 'text/markdown': markdown }, trusted: false });
    try {
      await renderer.renderModel(model);
    } catch (error) {
      console.warn('kimi-lab: could not render the answer as Markdown', error);
      renderer.dispose();
      section.node.classList.remove('kimi-mod-pending'); // the plain text stays
      return;
    }
    if (this._disposed || generation !== this._generation) {
      renderer.dispose();
      return;
    }
    const rendered = h('div', { className: 'kimi-answer-section kimi-answer-rendered' }, renderer.node);
    addCodeActions(renderer.node, this.insertCode);
    const owner = section.owner ?? section;
    owner.renderer?.dispose();
    owner.renderer = renderer;
    owner.node.replaceWith(rendered);
    owner.node = rendered;
    this._typeset(renderer.node);
  }

  /**
   * Typeset the math of a rendered section. The renderer typesets only when it is attached as
   * a Lumino widget, which it is not here (its node is placed by hand): so once it is on the page.
   */
  private _typeset(node: HTMLElement): void {
    const typesetter = this.rendermime.latexTypesetter;
    if (!typesetter || !node.isConnected || !/[$\\]/.test(node.textContent ?? '')) {
      return;
    }
    Promise.resolve(typesetter.typeset(node)).catch(error => console.warn('kimi-lab: could not typeset the answer', error));
  }

  /** `data-rendered` says the finished answer is fully rendered (tests and benchmarks wait on it). */
  private _markRendered(): void {
    const rendered = this._done && this._committed === this._text.length && !this._busy && !this._queue.length;
    this.node.toggleAttribute('data-rendered', rendered);
  }

  private _reset(): void {
    this._generation++;
    this._sections.forEach(section => section.renderer?.dispose());
    this._queue = [];
    this._sections = [];
    this._linked = false;
    this._busy = false;
    this._committed = 0;
    this._text = '';
    this._cuts = new MarkdownCuts();
    this._tail.replaceChildren();
    this.node.replaceChildren(this._tail);
  }

  private _text = '';
  private _done = false;
  private _disposed = false;
  private _committed = 0;
  private _busy = false;
  private _generation = 0;
  private _cuts = new MarkdownCuts();
  private _queue: Section[] = [];
  private _sections: Section[] = [];
  private _linked = false;
  private readonly _tail = h('div', { className: 'kimi-answer-plain' });
}

/** Resolve in a new task (not a microtask), so the browser can paint and handle input between. */
function nextTask(): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, 0));
}

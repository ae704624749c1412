/**
 * Where a Markdown text that is still streaming can be cut into sections that render on their
 * own: before a line that starts a new top-level block after a blank line, outside code fences.
 *
 * Rendering a long answer as one Markdown document is one long main-thread task (about 170 ms
 * for 80,000 characters); sections cut here render one per task while the answer streams.
 * The cut is conservative: an indented line after a blank line belongs to the list item or
 * code block above it, so it is never a cut, and nothing inside a ``` or ~~~ fence is.
 */

const FENCE = /^\s*(`{3,}|~{3,})(.*)$/;

export class MarkdownCuts {
  /** Positions (ascending) where a section may start; each follows a blank line. */
  readonly cuts: number[] = [];

  /** Scan the complete lines of `text` not scanned yet (`text` extends what was scanned). */
  scan(text: string): void {
    let pos = this._scanned;
    for (let nl = text.indexOf('\n', pos); nl >= 0; nl = text.indexOf('\n', pos)) {
      this._line(text.slice(pos, nl), pos);
      pos = nl + 1;
    }
    this._scanned = pos;
    // The line being written already starts a block: the cut need not wait for its end.
    if (!this._fence && this._blank && pos < text.length && !/^\s/.test(text[pos])) {
      this._push(pos);
    }
  }

  /** The last cut after `from` and at most `to`, or -1. */
  lastCut(from: number, to: number): number {
    for (let i = this.cuts.length - 1; i >= 0 && this.cuts[i] > from; i--) {
      if (this.cuts[i] <= to) {
        return this.cuts[i];
      }
    }
    return -1;
  }

  private _line(line: string, start: number): void {
    const fence = FENCE.exec(line);
    if (this._fence) {
      const closes = fence && fence[1][0] === this._fence[0] && fence[1].length >= this._fence.length && !fence[2].trim();
      if (closes) {
        this._fence = null;
      }
      this._blank = false;
      return;
    }
    const blank = line.trim() === '';
    if (this._blank && !blank && !/^\s/.test(line)) {
      this._push(start);
    }
    // A backtick fence's info string cannot hold a backtick (that line is inline code).
    if (fence && !(fence[1][0] === '`' && fence[2].includes('`'))) {
      this._fence = fence[1];
    }
    this._blank = blank;
  }

  private _push(cut: number): void {
    if (this.cuts[this.cuts.length - 1] !== cut) {
      this.cuts.push(cut);
    }
  }

  private _scanned = 0;
  private _blank = false;
  private _fence: string | null = null;
}

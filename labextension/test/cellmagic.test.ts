/** `%%kimi` cells get the Markdown-cell language; other code cells keep the notebook's. */
import { describe, expect, it } from 'vitest';

import type { Notebook } from '@jupyterlab/notebook';
import { Signal } from '@lumino/signaling';

import { KIMI_CELL_MIME, KimiCellLanguage, isKimiCell } from '../src/cellmagic';

describe('isKimiCell', () => {
  it('is the %%kimi cell magic on the first line', () => {
    expect(isKimiCell('%%kimi\nWhat is in df?')).toBe(true);
    expect(isKimiCell('%%kimi --chat eda\nSummarise')).toBe(true);
    expect(isKimiCell('%%kimi')).toBe(true);
    expect(isKimiCell('%%kimi\r\nx')).toBe(true);
    expect(isKimiCell('%%kimix\nx')).toBe(false);
    expect(isKimiCell(' %%kimi\nx')).toBe(false);
    expect(isKimiCell('x = 1\n%%kimi')).toBe(false);
    expect(isKimiCell('%kimi doctor')).toBe(false);
  });
});

/** Just enough of a code cell model, cell list and notebook widget. */
class FakeCell {
  constructor(
    public type: string,
    private source: string,
    public mimeType = 'text/x-ipython'
  ) {}
  readonly isDisposed = false;
  readonly mimeTypeChanged = new Signal<this, void>(this);
  readonly sharedModel = {
    getSource: () => this.source,
    changed: new Signal<object, { sourceChange?: unknown }>(this)
  };
  setMime(mime: string): void {
    this.mimeType = mime;
    this.mimeTypeChanged.emit();
  }
  edit(source: string): void {
    this.source = source;
    this.sharedModel.changed.emit({ sourceChange: [{ insert: source }] });
  }
}

function fakeNotebook(cells: FakeCell[]) {
  const list = Object.assign([...cells], { changed: new Signal<object, { newValues: FakeCell[] }>({}) });
  const notebook = { model: { cells: list }, modelChanged: new Signal<object, void>({}), codeMimetype: 'text/x-ipython' };
  return { notebook, list, language: new KimiCellLanguage(notebook as unknown as Notebook) };
}

describe('KimiCellLanguage', () => {
  it('gives %%kimi cells the Markdown language and leaves the others alone', () => {
    const kimi = new FakeCell('code', '%%kimi\nWhat is in df?');
    const code = new FakeCell('code', 'df.head()');
    const md = new FakeCell('markdown', '%%kimi', 'text/x-ipythongfm');
    fakeNotebook([kimi, code, md]);
    expect(kimi.mimeType).toBe(KIMI_CELL_MIME);
    expect(code.mimeType).toBe('text/x-ipython');
    expect(md.mimeType).toBe('text/x-ipythongfm');
  });

  it('follows edits of the first line, and new cells', () => {
    const cell = new FakeCell('code', 'x = 1');
    const { list } = fakeNotebook([cell]);
    cell.edit('%%kimi\nx');
    expect(cell.mimeType).toBe(KIMI_CELL_MIME);
    cell.edit('x = 1');
    expect(cell.mimeType).toBe('text/x-ipython');
    const added = new FakeCell('code', '%%kimi --chat eda\nq');
    list.changed.emit({ newValues: [added] });
    expect(added.mimeType).toBe(KIMI_CELL_MIME);
  });

  it('takes its language back when the notebook resets every code cell (a kernel change)', () => {
    const cell = new FakeCell('code', '%%kimi\nq');
    fakeNotebook([cell]);
    cell.setMime('text/x-ipython');
    expect(cell.mimeType).toBe(KIMI_CELL_MIME);
  });

  it('does not undo a language another extension chose for a cell it never changed', () => {
    const cell = new FakeCell('code', '%%sql\nselect 1', 'text/x-sql');
    fakeNotebook([cell]);
    cell.edit('%%sql\nselect 2');
    expect(cell.mimeType).toBe('text/x-sql');
  });
});

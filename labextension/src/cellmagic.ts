/**
 * `%%kimi` cells highlighted as Markdown, not Python.
 *
 * A code cell's editor language follows its model's `mimeType`, which the notebook sets for
 * every code cell from the kernel's `language_info` (`text/x-ipython` → Python). Neither
 * JupyterLab 4 nor the IPython kernel's `codemirror_mode` knows about cell magics: the language
 * is the notebook's, whatever the first line says. So this watches the code cells of every
 * notebook and gives a cell whose first line is `%%kimi …` the Markdown-cell language (GFM with
 * math, what the prompt is), and gives it back the notebook's code language when the line goes.
 * Only the editor's highlighting changes: the cell, its source and how it runs are untouched.
 */

import type { ICellModel } from '@jupyterlab/cells';
import type { Notebook } from '@jupyterlab/notebook';

/** The language of JupyterLab's Markdown cells (GitHub-flavoured Markdown with `$math$`). */
export const KIMI_CELL_MIME = 'text/x-ipythongfm';

/** `%%kimi` alone or followed by options, on the first line (as IPython reads a cell magic). */
const KIMI_MAGIC = /^%%kimi(?:[ \t]|$)/;

export function isKimiCell(source: string): boolean {
  const end = source.indexOf('\n');
  return KIMI_MAGIC.test(end < 0 ? source : source.slice(0, end).replace(/\r$/, ''));
}

/** Keeps the code cells of one notebook widget in the language their first line asks for. */
export class KimiCellLanguage {
  constructor(private readonly notebook: Notebook) {
    notebook.modelChanged.connect(this._onModel, this);
    this._onModel();
  }

  dispose(): void {
    this.notebook.modelChanged.disconnect(this._onModel, this);
  }

  private _onModel(): void {
    const model = this.notebook.model;
    if (!model || this._watched.has(model)) {
      return;
    }
    this._watched.add(model);
    model.cells.changed.connect((_, change) => change.newValues.forEach(cell => this._watch(cell)), this);
    for (const cell of model.cells) {
      this._watch(cell);
    }
  }

  private _watch(cell: ICellModel): void {
    if (cell.type !== 'code' || this._watched.has(cell)) {
      return;
    }
    this._watched.add(cell);
    const apply = (): void => {
      if (cell.isDisposed) {
        return;
      }
      if (isKimiCell(cell.sharedModel.getSource())) {
        this._ours.add(cell);
        if (cell.mimeType !== KIMI_CELL_MIME) {
          cell.mimeType = KIMI_CELL_MIME;
        }
      } else if (this._ours.delete(cell) && cell.mimeType === KIMI_CELL_MIME) {
        // Only a language this set is given back: another extension's choice is not undone.
        cell.mimeType = this.notebook.codeMimetype;
      }
    };
    cell.sharedModel.changed.connect((_, change) => {
      if (change.sourceChange) {
        apply();
      }
    }, this);
    // The notebook sets every code cell's language again when the kernel's language changes.
    cell.mimeTypeChanged.connect(apply, this);
    apply();
  }

  private readonly _watched = new WeakSet<object>();
  /** Cells this gave the Markdown language (and so may give the code language back). */
  private readonly _ours = new WeakSet<ICellModel>();
}

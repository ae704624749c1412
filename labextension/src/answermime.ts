/**
 * Finished `%%kimi` answers in notebook outputs (and in the chat panel, an output widget): the
 * kernel sends `application/vnd.kimi-lab.answer+json` ({markdown}) beside text/markdown. This
 * renderer draws that Markdown with JupyterLab's own Markdown renderer (math, highlighting,
 * always sanitised) and adds "Insert below" to its code blocks, which puts the code in a new
 * cell under the cell that holds the answer. Front ends without the extension show text/markdown.
 */

import type { IRenderMime, IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { PanelLayout, Widget } from '@lumino/widgets';

import { addCodeActions } from './codeactions';

export const ANSWER_MIME = 'application/vnd.kimi-lab.answer+json';
/** Ahead of text/markdown (rank 60), so a front end with the extension picks this one. */
export const ANSWER_RANK = 55;
export const INSERT_LABEL = 'Insert below';

/** Puts `code` in a new cell below the notebook cell that contains `node`; false when none does. */
export type InsertBelowNode = (node: HTMLElement, code: string) => boolean;

/** The Markdown an answer carries; text/markdown when the payload is not ours. */
export function answerMarkdown(data: IRenderMime.IMimeModel['data']): string {
  const payload = data[ANSWER_MIME] as { markdown?: unknown } | undefined;
  if (payload && typeof payload.markdown === 'string') {
    return payload.markdown;
  }
  const fallback = data['text/markdown'];
  return typeof fallback === 'string' ? fallback : '';
}

export class AnswerRenderer extends Widget implements IRenderMime.IRenderer {
  constructor(
    private readonly registry: IRenderMimeRegistry,
    private readonly insertBelow: InsertBelowNode
  ) {
    super();
    this.addClass('kimi-answer-output');
    this.layout = new PanelLayout();
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const inner = this.registry.createRenderer('text/markdown');
    const markdown = this.registry.createModel({
      data: { 'text/markdown': answerMarkdown(model.data) },
      // Always sanitised, as the sidebar renders answers: a cell the user just ran is "trusted",
      // and JupyterLab does not sanitise trusted Markdown (the kernel also escapes the model's HTML).
      trusted: false,
      metadata: model.metadata
    });
    await inner.renderModel(markdown);
    const layout = this.layout as PanelLayout;
    for (const old of [...layout.widgets]) {
      layout.removeWidget(old);
      old.dispose();
    }
    layout.addWidget(inner);
    addCodeActions(inner.node, code => this.insertBelow(this.node, code), INSERT_LABEL);
  }
}

/** Register the renderer with `registry` (the app's: notebooks clone it when they open). */
export function registerAnswerRenderer(registry: IRenderMimeRegistry, insertBelow: InsertBelowNode): void {
  registry.addFactory(
    {
      safe: true, // it renders through the Markdown renderer, which sanitises untrusted output
      mimeTypes: [ANSWER_MIME],
      createRenderer: () => new AnswerRenderer(registry, insertBelow)
    },
    ANSWER_RANK
  );
}

/**
 * The kimi-lab JupyterLab plugins: a right-sidebar chat bound to the active notebook's kernel,
 * and `%%kimi` cells highlighted as Markdown (cellmagic.ts).
 */

import { ILayoutRestorer, type JupyterFrontEnd, type JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions, type NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import type { Contents, Kernel } from '@jupyterlab/services';
import { IStateDB } from '@jupyterlab/statedb';
import { addIcon, caretDownEmptyIcon, downloadIcon, historyIcon } from '@jupyterlab/ui-components';

import { registerAnswerRenderer } from './answermime';
import { KimiCellLanguage } from './cellmagic';
import type { ChatFiles } from './chatactions';
import { memoryChoiceStore, type ChatChoiceStore } from './choices';
import { KimiClient } from './client';
import { kimiIcon } from './icon';
import { KimiPanel } from './panel';
import { chatNameForPath } from './reducer';
import { pageFlag, type WidenedFlag } from './sidebarwidth';

export const COMMAND_OPEN = 'kimi-lab:open-sidebar';
const PANEL_ID = 'kimi-lab-sidebar';
/** IStateDB key of `notebook path → chat name` (the chat picked per notebook). */
const CHOICES_KEY = 'kimi-lab:chat-choices';
/** IStateDB key set once the sidebar's area was given a usable width (sidebarwidth.ts). */
const WIDENED_KEY = 'kimi-lab:sidebar-widened';
/** JupyterLab's Markdown viewer (rendered, not the text editor) for an exported chat. */
const MARKDOWN_PREVIEW = 'Markdown Preview';

/** "Widened once" kept in the workspace, so a width the user chose later is never undone. */
function stateWidenedFlag(state: IStateDB): WidenedFlag {
  return {
    get: async () => (await state.fetch(WIDENED_KEY)) === true,
    set: async () => {
      await state.save(WIDENED_KEY, true);
    }
  };
}

/** The chat picked per notebook, in JupyterLab's state database (kept in the workspace). */
function stateChoiceStore(state: IStateDB): ChatChoiceStore {
  return {
    load: async () => {
      const value = await state.fetch(CHOICES_KEY);
      const out: Record<string, string> = {};
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        for (const [path, chat] of Object.entries(value)) {
          if (typeof chat === 'string') {
            out[path] = chat;
          }
        }
      }
      return out;
    },
    save: async choices => {
      await state.save(CHOICES_KEY, choices);
    }
  };
}

/** Exports go through the Jupyter contents service and open in the Markdown preview. */
function contentFiles(app: JupyterFrontEnd): ChatFiles {
  const contents: Contents.IManager = app.serviceManager.contents;
  return {
    exists: async path => {
      try {
        await contents.get(path, { content: false });
        return true;
      } catch (error) {
        if ((error as { response?: { status?: number } }).response?.status === 404) {
          return false;
        }
        throw error;
      }
    },
    save: async (path, content) => {
      await contents.save(path, { type: 'file', format: 'text', content });
    },
    open: async path => {
      // The rendered chat, as a reader wants it; the text editor only without the Markdown viewer.
      const preview = app.docRegistry.getWidgetFactory(MARKDOWN_PREVIEW) ? { factory: MARKDOWN_PREVIEW } : {};
      const widget = (await app.commands.execute('docmanager:open', { path, ...preview })) as { id?: string } | undefined;
      if (widget?.id) {
        app.shell.activateById(widget.id); // in front, whatever had the focus (the notebook's editor)
      }
    }
  };
}

/** Insert `code` as a code cell below the notebook cell that holds `node` (an answer in its output). */
function insertBelowNode(tracker: INotebookTracker, node: HTMLElement, code: string): boolean {
  const panel = tracker.find(nb => nb.node.contains(node)) ?? null;
  const index = panel ? panel.content.widgets.findIndex(cell => cell.node.contains(node)) : -1;
  if (!panel || index < 0) {
    return false;
  }
  panel.content.activeCellIndex = index;
  return insertCodeBelow(panel, code);
}

/** Insert `code` as a code cell below the active cell of `panel`'s notebook. */
function insertCodeBelow(panel: NotebookPanel | null, code: string): boolean {
  if (!panel || panel.isDisposed) {
    return false;
  }
  const notebook = panel.content;
  NotebookActions.insertBelow(notebook);
  const cell = notebook.activeCell;
  if (!cell) {
    return false;
  }
  if (cell.model.type !== 'code') {
    NotebookActions.changeCellType(notebook, 'code');
  }
  notebook.activeCell?.model.sharedModel.setSource(code);
  return true;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'kimi-lab:plugin',
  description: "A sidebar chat with Kimi K2 Thinking, bound to the active notebook's kernel.",
  autoStart: true,
  requires: [INotebookTracker, IRenderMimeRegistry],
  optional: [ICommandPalette, ILayoutRestorer, IStateDB],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    rendermime: IRenderMimeRegistry,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    state: IStateDB | null
  ): void => {
    let bound: NotebookPanel | null = null;
    const clients = new Map<Kernel.IKernelConnection, KimiClient>();

    const panel = new KimiPanel({
      rendermime,
      insertCode: code => insertCodeBelow(bound, code),
      chatChoices: state ? stateChoiceStore(state) : memoryChoiceStore(),
      files: contentFiles(app),
      icons: { chats: historyIcon, newChat: addIcon, export: downloadIcon, caret: caretDownEmptyIcon },
      widened: state ? stateWidenedFlag(state) : pageFlag()
    });
    panel.id = PANEL_ID;
    app.shell.add(panel, 'right', { rank: 650 });
    registerAnswerRenderer(rendermime, (node, code) => insertBelowNode(tracker, node, code));
    restorer?.add(panel, PANEL_ID);

    const clientFor = (kernel: Kernel.IKernelConnection): KimiClient => {
      let client = clients.get(kernel);
      if (!client) {
        const created = new KimiClient(kernel);
        clients.set(kernel, created);
        kernel.disposed.connect(() => {
          clients.delete(kernel);
          panel.forgetClient(created);
          created.dispose();
          if (bound && tracker.currentWidget === bound) {
            bind(bound);
          }
        });
        client = created;
      }
      return client;
    };

    const bind = (nb: NotebookPanel | null): void => {
      bound = nb;
      if (!nb) {
        panel.bind(null);
        return;
      }
      const path = nb.context.path;
      const chat = chatNameForPath(path);
      const notebook = nb.title.label || path;
      const kernel = nb.sessionContext.session?.kernel ?? null;
      if (!kernel || kernel.isDisposed) {
        const note = nb.sessionContext.isReady ? 'This notebook has no kernel: start one to chat.' : 'Waiting for the kernel…';
        panel.bind({ notebook, chat, path, client: null, note });
        return;
      }
      panel.bind({ notebook, chat, path, client: clientFor(kernel) });
    };

    const watched = new WeakSet<NotebookPanel>();
    const watch = (nb: NotebookPanel): void => {
      if (watched.has(nb)) {
        return;
      }
      watched.add(nb);
      const rebindIfCurrent = (): void => {
        if (bound === nb) {
          bind(nb);
        }
      };
      nb.sessionContext.kernelChanged.connect(rebindIfCurrent);
      nb.sessionContext.ready.then(rebindIfCurrent, rebindIfCurrent);
      let path = nb.context.path;
      nb.context.pathChanged.connect((_, moved) => {
        if (moved !== path) {
          panel.notebookMoved({ path, chat: chatNameForPath(path) }, { path: moved, chat: chatNameForPath(moved) });
          path = moved;
        }
        rebindIfCurrent();
      });
      nb.disposed.connect(() => {
        if (bound === nb) {
          bind(tracker.currentWidget);
        }
      });
    };

    tracker.currentChanged.connect((_, nb) => {
      if (nb) {
        watch(nb);
      }
      bind(nb);
    });
    if (tracker.currentWidget) {
      watch(tracker.currentWidget);
    }
    bind(tracker.currentWidget);

    app.commands.addCommand(COMMAND_OPEN, {
      label: 'Open Kimi Chat',
      caption: "Chat with Kimi in the active notebook's kernel",
      icon: kimiIcon,
      execute: () => {
        app.shell.activateById(PANEL_ID);
        panel.focusInput();
      }
    });
    app.commands.addKeyBinding({ command: COMMAND_OPEN, keys: ['Accel Alt K'], selector: 'body' });
    palette?.addItem({ command: COMMAND_OPEN, category: 'Kimi' });
  }
};

/** `%%kimi` cells of every notebook are highlighted as Markdown (see cellmagic.ts). */
const kimiCells: JupyterFrontEndPlugin<void> = {
  id: 'kimi-lab:kimi-cells',
  description: 'Highlights %%kimi cells as Markdown (the prompt) instead of Python.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (_app: JupyterFrontEnd, tracker: INotebookTracker): void => {
    const watch = (panel: NotebookPanel): void => {
      const language = new KimiCellLanguage(panel.content);
      panel.disposed.connect(() => language.dispose());
    };
    tracker.forEach(watch);
    tracker.widgetAdded.connect((_, panel) => watch(panel));
  }
};

export default [plugin, kimiCells];

/**
 * The chat picked per notebook (Chats, New chat): `notebook path → chat name`, kept in a store
 * the plugin injects (JupyterLab's state database), so a reload reopens the same chat.
 */

import { choiceKey, type Binding } from './binding';

/** Where the panel keeps `notebook path → chat name` (IStateDB in JupyterLab). */
export interface ChatChoiceStore {
  load(): Promise<Record<string, string>>;
  save(choices: Record<string, string>): Promise<void>;
}

/** The choices in memory only (no state database): they last as long as the page. */
export function memoryChoiceStore(initial: Record<string, string> = {}): ChatChoiceStore {
  let saved = { ...initial };
  return {
    load: () => Promise.resolve({ ...saved }),
    save: choices => {
      saved = { ...choices };
      return Promise.resolve();
    }
  };
}

export class ChatChoices {
  /** Starts loading the stored choices; `onLoaded` runs once they are in. */
  constructor(store: ChatChoiceStore, onLoaded: () => void) {
    this._store = store;
    this.ready = this._load(onLoaded);
  }

  /** Settles once the stored choices are loaded (or failed to load). */
  readonly ready: Promise<void>;

  /** The chat to show for `notebook` (a binding of the notebook's own chat). */
  chatFor(notebook: Binding): string {
    return this._choices[choiceKey(notebook)] ?? notebook.chat;
  }

  /** Remember `chat` for `notebook`; its own chat needs no entry. */
  remember(notebook: Binding, chat: string): void {
    const key = choiceKey(notebook);
    this._touched.add(key);
    if (chat === notebook.chat) {
      delete this._choices[key];
    } else {
      this._choices[key] = chat;
    }
    // After loading, so the save does not drop the stored choices of other notebooks.
    void this.ready
      .then(() => this._store.save({ ...this._choices }))
      .catch(() => {
        // Not persisted: the choice lasts as long as the page.
      });
  }

  /**
   * A notebook was renamed or moved: it keeps the chat it showed (its old own chat, or the one
   * picked for it), now remembered under its new path.
   */
  moved(from: Binding, to: Binding): void {
    const chat = this.chatFor(from);
    const key = choiceKey(from);
    this._touched.add(key);
    delete this._choices[key];
    this.remember(to, chat);
  }

  private async _load(onLoaded: () => void): Promise<void> {
    let loaded: Record<string, string> = {};
    try {
      loaded = await this._store.load();
    } catch {
      // No stored choices: every notebook shows its own chat.
    }
    const merged: Record<string, string> = {};
    for (const [key, chat] of Object.entries(loaded ?? {})) {
      // A choice made here while loading is newer than the stored one.
      if (typeof chat === 'string' && !this._touched.has(key)) {
        merged[key] = chat;
      }
    }
    this._choices = { ...merged, ...this._choices };
    onLoaded();
  }

  private _choices: Record<string, string> = {};
  /** Notebooks whose choice changed here before the stored choices loaded. */
  private readonly _touched = new Set<string>();
  private readonly _store: ChatChoiceStore;
}

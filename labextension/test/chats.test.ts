// @vitest-environment happy-dom
/**
 * The sidebar's Chats menu, New chat and Export, the "reopened" note and the chat picked per
 * notebook, against a fake kernel that speaks the `transcripts` / `history` (`reopen`,
 * `restored`) / `export` protocol, with fake files and a fake state database.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

vi.mock('../src/icon', () => ({ kimiIcon: undefined }));

import { Widget } from '@lumino/widgets';

import type { ChatFiles } from '../src/chatactions';
import { describeChat, exportPath, freshChatName, relativeTime } from '../src/chats';
import { memoryChoiceStore, type ChatChoiceStore } from '../src/choices';
import { KimiClient } from '../src/client';
import { KimiPanel } from '../src/panel';
import type { HistoryTurn, KernelMessage, TranscriptChat } from '../src/protocol';
import { FakeKernel, asKernel, type Data } from './fakeKernel';
import { fakeRendermime, flushFrames, stubFrames, tick } from './harness';
import { askResult } from './messages';

beforeEach(stubFrames);
afterEach(() => {
  vi.unstubAllGlobals();
  document.body.replaceChildren();
});

const NOW = Date.UTC(2025, 5, 1, 12, 0, 0);
const AGO = (seconds: number) => NOW / 1000 - seconds;
const NOTEBOOK = { notebook: 'Analysis.ipynb', path: 'work/Analysis.ipynb', chat: 'work/Analysis' };

const turn = (prompt: string, answer: string): HistoryTurn => ({
  prompt,
  events: [{ type: 'content', text: answer }],
  result: askResult({ content: answer, cost: 0.001, prompt })
});

/** What the fake kernel has: chats in the transcripts file, some loaded in its memory. */
interface World {
  chats: TranscriptChat[];
  turns: Record<string, HistoryTurn[]>;
  enabled?: boolean;
}

function world(): World {
  return {
    chats: [
      { name: 'work/Analysis', turns: 1, last_activity: AGO(120), tokens: 1500, cost: 0.012, loaded: true, busy: false },
      { name: 'older', turns: 2, last_activity: AGO(2 * 3600 + 5), tokens: 9000, cost: null, loaded: false, busy: false },
      { name: 'work/Analysis (2)', turns: 1, last_activity: AGO(3 * 86400), tokens: 10, cost: 0.5, loaded: true, busy: false }
    ],
    turns: {
      'work/Analysis': [turn('What is in df?', 'A frame.')],
      older: [turn('first old question', 'old answer 1'), turn('second old question', 'old answer 2')],
      'work/Analysis (2)': [turn('side question', 'side answer')]
    }
  };
}

function kernelFor(w: World): FakeKernel {
  const replies: Record<string, (data: Data) => KernelMessage | null> = {
    transcripts: data => ({
      type: 'transcripts',
      request_id: data.request_id as string,
      enabled: w.enabled ?? true,
      chats: w.chats.map(c => ({ ...c }))
    }),
    history: data => {
      const chat = data.chat as string;
      const listed = w.chats.find(c => c.name === chat);
      // The kernel reopens a chat it does not have from the file (or when asked to).
      const restored = listed && (!listed.loaded || data.reopen === true) ? listed.turns : 0;
      if (listed) {
        listed.loaded = true;
      }
      return { type: 'history', request_id: data.request_id as string, chat, turns: w.turns[chat] ?? [], restored };
    },
    export: data => {
      const chat = data.chat as string;
      const turns = w.turns[chat] ?? [];
      return {
        type: 'export',
        request_id: data.request_id as string,
        chat,
        source: 'transcripts',
        // As kimi_lab's export of a chat without turns: its title only.
        markdown: `# ${chat}\n\n` + turns.map((t, i) => `## ${i + 1}. Prompt\n\n> ${t.prompt}\n`).join('\n'),
        turns: turns.length
      };
    }
  };
  return new FakeKernel({ loaded: true, replies });
}

function fakeFiles(existing: string[] = []) {
  const files = new Map(existing.map(p => [p, 'someone else’s file'] as [string, string]));
  const opened: string[] = [];
  const api: ChatFiles = {
    exists: async path => files.has(path),
    save: async (path, content) => {
      if (files.has(path)) {
        throw new Error(`would overwrite ${path}`);
      }
      files.set(path, content);
    },
    open: async path => {
      opened.push(path);
    }
  };
  return { files, opened, api };
}

/** A fake IStateDB: what was saved, as JupyterLab's state database would keep it across a reload. */
function fakeState(initial: Record<string, string> = {}) {
  const db: { value: Record<string, string> } = { value: { ...initial } };
  const store: ChatChoiceStore = {
    load: async () => ({ ...db.value }),
    save: async choices => {
      db.value = { ...choices };
    }
  };
  return { db, store };
}

async function settle(rounds = 6) {
  for (let i = 0; i < rounds; i++) {
    await tick();
  }
  flushFrames();
}

/** Tick until `condition` holds (at most 100 rounds of the event loop). */
async function until(condition: () => boolean, what: string) {
  for (let i = 0; i < 100 && !condition(); i++) {
    await tick();
  }
  flushFrames();
  expect(condition(), what).toBe(true);
}

async function open(
  w: World = world(),
  options: { store?: ChatChoiceStore; files?: ChatFiles; kernel?: FakeKernel } = {}
) {
  const kernel = options.kernel ?? kernelFor(w);
  const client = new KimiClient(asKernel(kernel));
  const panel = new KimiPanel({
    rendermime: fakeRendermime(),
    insertCode: () => true,
    chatChoices: options.store ?? memoryChoiceStore(),
    files: options.files,
    now: () => NOW
  });
  panel.bind({ ...NOTEBOOK, client });
  Widget.attach(panel, document.body);
  panel.hide();
  panel.show();
  await settle();
  return { kernel, client, panel };
}

function action(panel: KimiPanel, label: string): HTMLButtonElement {
  const button = [...panel.node.querySelectorAll('.kimi-header button')].find(
    b => b.querySelector('.kimi-action-label')?.textContent === label
  );
  expect(button, `a ${label} button in the header`).toBeTruthy();
  return button as HTMLButtonElement;
}

const menuItems = (panel: KimiPanel) => [...panel.node.querySelectorAll<HTMLButtonElement>('.kimi-chats-menu .kimi-chats-item')];
const prompts = (panel: KimiPanel) => [...panel.node.querySelectorAll('.kimi-prompt')].map(p => p.textContent);
const notice = (panel: KimiPanel) => panel.node.querySelector('.kimi-notice') as HTMLElement;
const sent = (kernel: FakeKernel, type: string) => kernel.sent.filter(m => m.type === type);

async function openMenu(panel: KimiPanel) {
  action(panel, 'Chats').click();
  await until(() => menuItems(panel).length > 0, 'the menu lists chats');
}

function typeAndSend(panel: KimiPanel, text: string) {
  const input = panel.node.querySelector('textarea') as HTMLTextAreaElement;
  input.value = text;
  input.dispatchEvent(new Event('input'));
  input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
}

describe('helpers', () => {
  it('says how long ago, in the units a person would', () => {
    expect(relativeTime(0, NOW)).toBe('');
    expect(relativeTime(AGO(5), NOW)).toBe('just now');
    expect(relativeTime(AGO(-30), NOW)).toBe('just now'); // a clock a little ahead
    expect(relativeTime(AGO(125), NOW)).toBe('2 min ago');
    expect(relativeTime(AGO(2 * 3600 + 59), NOW)).toBe('2 h ago');
    expect(relativeTime(AGO(3 * 86400), NOW)).toBe('3 d ago');
    expect(relativeTime(AGO(90 * 86400), NOW)).toBe('2025-03-03');
  });

  it('names a new chat after the notebook’s, skipping the names in use', () => {
    expect(freshChatName('work/Analysis', ['work/Analysis'])).toBe('work/Analysis (2)');
    expect(freshChatName('work/Analysis', ['work/Analysis (2)', 'work/Analysis (3)', 'work/Analysis (5)'])).toBe('work/Analysis (4)');
  });

  it('exports next to the notebook under a name that is free', async () => {
    const taken = new Set(['work/Analysis.kimi-chat.md', 'work/Analysis.kimi-chat-2.md']);
    const exists = async (p: string) => taken.has(p);
    expect(await exportPath('work/Analysis.ipynb', 'work/Analysis', exists)).toBe('work/Analysis.kimi-chat-3.md');
    expect(await exportPath('Top.ipynb', 'Top', exists)).toBe('Top.kimi-chat.md');
    expect(await exportPath('work/Analysis.ipynb', 'a/b: c?', exists)).toBe('work/b  c.kimi-chat.md');
  });

  it('describes a chat in one muted line', () => {
    const chat: TranscriptChat = { name: 'x', turns: 4, last_activity: AGO(7200), tokens: 10, cost: 0.0123, loaded: true, busy: true };
    expect(describeChat(chat, NOW)).toBe('4 turns · 2 h ago · $0.012 · answering');
    expect(describeChat({ ...chat, turns: 1, last_activity: 0, cost: null, busy: false }, NOW)).toBe('1 turn');
  });
});

describe('the Chats menu', () => {
  it('lists the transcripts reply, marks the current chat and refreshes on every open', async () => {
    const w = world();
    const { kernel, panel } = await open(w);
    expect(sent(kernel, 'transcripts')).toHaveLength(0);
    await openMenu(panel);
    expect(sent(kernel, 'transcripts')).toHaveLength(1);
    const items = menuItems(panel);
    expect(items.map(i => i.querySelector('.kimi-chats-name')?.textContent)).toEqual(['work/Analysis', 'older', 'work/Analysis (2)']);
    expect(items.map(i => i.querySelector('.kimi-chats-meta')?.textContent)).toEqual([
      '1 turn · 2 min ago · $0.012 · current',
      '2 turns · 2 h ago',
      '1 turn · 3 d ago · $0.500'
    ]);
    expect(items.map(i => i.getAttribute('aria-checked'))).toEqual(['true', 'false', 'false']);
    expect(items[0].classList.contains('kimi-mod-current')).toBe(true);
    expect(action(panel, 'Chats').getAttribute('aria-expanded')).toBe('true');

    // Escape closes it; opening again asks the kernel again (a chat may have been added meanwhile).
    items[0].dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    expect(menuItems(panel)).toHaveLength(0);
    expect(action(panel, 'Chats').getAttribute('aria-expanded')).toBe('false');
    w.chats.unshift({ name: 'brand new', turns: 1, last_activity: AGO(1), tokens: 1, cost: null, loaded: true, busy: false });
    await openMenu(panel);
    expect(sent(kernel, 'transcripts')).toHaveLength(2);
    expect(menuItems(panel)[0].querySelector('.kimi-chats-name')?.textContent).toBe('brand new');

    // A click outside closes it.
    document.body.dispatchEvent(new MouseEvent('mousedown', { bubbles: true }));
    expect(menuItems(panel)).toHaveLength(0);
  });

  it('picking a chat not in the kernel’s memory reopens it from the transcripts (history with reopen)', async () => {
    const { kernel, panel } = await open();
    expect(prompts(panel)).toEqual(['What is in df?']);
    await openMenu(panel);
    menuItems(panel).find(i => i.dataset.chat === 'older')!.click();
    await until(() => prompts(panel).length === 2, 'the old chat’s turns are shown');
    expect(panel.binding?.chat).toBe('older');
    expect(panel.notebookChat).toBe('work/Analysis');
    expect(sent(kernel, 'history').pop()).toMatchObject({ chat: 'older', reopen: true });
    expect(prompts(panel)).toEqual(['first old question', 'second old question']);
    expect(panel.node.querySelector('.kimi-bound')?.textContent).toBe('Analysis.ipynb · chat “older”');
    // The notebook's kernel now has it: asking goes to that chat.
    typeAndSend(panel, 'and now?');
    await tick();
    expect(sent(kernel, 'ask').pop()).toMatchObject({ chat: 'older', prompt: 'and now?' });
  });

  it('picking a chat the kernel has loaded asks for its plain history', async () => {
    const { kernel, panel } = await open();
    await openMenu(panel);
    menuItems(panel).find(i => i.dataset.chat === 'work/Analysis (2)')!.click();
    await until(() => prompts(panel)[0] === 'side question', 'the side chat is shown');
    const history = sent(kernel, 'history').pop()!;
    expect(history.chat).toBe('work/Analysis (2)');
    expect('reopen' in history).toBe(false);
    expect(panel.node.querySelector('.kimi-restored-note')).toBeNull();
  });
});

describe('New chat', () => {
  it('binds the notebook to an unused name derived from its chat, and is disabled while an answer runs', async () => {
    const { kernel, panel } = await open();
    const button = action(panel, 'New chat');
    expect(button.disabled).toBe(false);

    typeAndSend(panel, 'long question');
    await tick();
    flushFrames();
    expect(button.disabled).toBe(true);
    const rid = sent(kernel, 'ask')[0].request_id as string;
    kernel.emit({ type: 'result', request_id: rid, result: askResult({ content: 'done' }) });
    flushFrames();
    expect(button.disabled).toBe(false);

    button.click();
    await until(() => panel.binding?.chat !== 'work/Analysis', 'a new chat is bound');
    // (2) is a chat in the transcripts list: the next free name.
    expect(panel.binding?.chat).toBe('work/Analysis (3)');
    expect(panel.node.querySelectorAll('.kimi-turn')).toHaveLength(0);
    expect(panel.node.querySelector('.kimi-empty')).not.toBeNull();
    expect(notice(panel).textContent).toBe('New chat “work/Analysis (3)”; the previous one is in Chats.');
    typeAndSend(panel, 'fresh start');
    await tick();
    expect(sent(kernel, 'ask').pop()).toMatchObject({ chat: 'work/Analysis (3)', prompt: 'fresh start' });

    // The old chat is one pick away.
    await openMenu(panel);
    const names = menuItems(panel).map(i => i.dataset.chat);
    expect(names).toContain('work/Analysis');
    expect(names).toContain('work/Analysis (3)');
    menuItems(panel).find(i => i.dataset.chat === 'work/Analysis')!.click();
    await until(() => prompts(panel)[0] === 'What is in df?', 'the notebook’s chat is back');
    expect(panel.binding?.chat).toBe('work/Analysis');
  });
});

describe('Check setup', () => {
  it('shows %kimi doctor\'s free checks in the notice, and what the paid ones need', async () => {
    const { kernel, panel } = await open(world());
    action(panel, 'Check setup').click();
    await until(() => (notice(panel).textContent ?? '').includes('✓ API key'), 'the report');
    expect(sent(kernel, 'doctor')).toHaveLength(1);
    expect(notice(panel).textContent).toContain('%kimi doctor -y');
    expect(notice(panel).classList.contains('kimi-mod-report')).toBe(true);
    expect(notice(panel).classList.contains('kimi-mod-error')).toBe(false);
  });
});

describe('Export', () => {
  it('saves the Markdown next to the notebook without overwriting, opens it and says so', async () => {
    const { files, opened, api } = fakeFiles(['work/Analysis.kimi-chat.md']);
    const { kernel, panel } = await open(world(), { files: api });
    action(panel, 'Export').click();
    await until(() => opened.length === 1, 'the export was opened');
    expect(sent(kernel, 'export').pop()).toMatchObject({ chat: 'work/Analysis' });
    expect(opened).toEqual(['work/Analysis.kimi-chat-2.md']);
    expect(files.get('work/Analysis.kimi-chat.md')).toBe('someone else’s file');
    expect(files.get('work/Analysis.kimi-chat-2.md')).toContain('What is in df?');
    await until(() => notice(panel).textContent === 'Exported 1 turn to Analysis.kimi-chat-2.md', 'the notice');
    expect(notice(panel).hidden).toBe(false);
    expect(notice(panel).classList.contains('kimi-mod-error')).toBe(false);
    expect(action(panel, 'Export').disabled).toBe(false);

    // Exporting again takes the next free name.
    action(panel, 'Export').click();
    await until(() => opened.length === 2, 'the second export was opened');
    expect(opened[1]).toBe('work/Analysis.kimi-chat-3.md');
    expect(notice(panel).textContent).toBe('Exported 1 turn to Analysis.kimi-chat-3.md');
  });

  it('reports a failure in one line, and an empty chat as nothing to export', async () => {
    const { opened, api } = fakeFiles();
    const kernel = new FakeKernel({ loaded: true }); // its export answers "no such chat"
    const { panel } = await open(world(), { files: api, kernel });
    action(panel, 'Export').click();
    await until(() => notice(panel).classList.contains('kimi-mod-error'), 'an error notice');
    expect(notice(panel).textContent).toBe('Export failed: no such chat');
    expect(opened).toEqual([]);

    const w = world();
    delete w.turns['work/Analysis'];
    const second = await open(w, { files: api });
    action(second.panel, 'Export').click();
    await until(() => notice(second.panel).textContent?.startsWith('Nothing') ?? false, 'nothing to export');
    expect(notice(second.panel).textContent).toBe('Nothing to export: “work/Analysis” has no turns yet.');
    expect(opened).toEqual([]);
  });

  it('is disabled without a way to save files', async () => {
    const { panel } = await open();
    expect(action(panel, 'Export').disabled).toBe(true);
  });
});

describe('reopened turns', () => {
  it('a history reply with restored turns shows a muted note above the conversation', async () => {
    const w = world();
    w.chats[0].loaded = false; // a fresh kernel: the kernel reopens the notebook's chat from the file
    const { panel } = await open(w);
    const messages = panel.node.querySelector('.kimi-messages') as HTMLElement;
    const note = messages.firstElementChild as HTMLElement;
    expect(note.className).toBe('kimi-restored-note');
    expect(note.textContent).toBe('Reopened 1 earlier turn from the transcripts file.');
    expect(prompts(panel)).toEqual(['What is in df?']);
  });

  it('no note when nothing was reopened', async () => {
    const { panel } = await open();
    expect(panel.node.querySelector('.kimi-restored-note')).toBeNull();
  });

  it('after a kernel restart the comm reloads the picked chat, which the kernel reopens', async () => {
    const w = world();
    const { kernel, panel } = await open(w);
    await openMenu(panel);
    menuItems(panel).find(i => i.dataset.chat === 'older')!.click();
    await until(() => prompts(panel).length === 2, 'the old chat is shown');
    const histories = sent(kernel, 'history').length;
    w.chats.forEach(c => (c.loaded = false)); // the restarted kernel has nothing in memory
    kernel.restart();
    await until(() => sent(kernel, 'history').length > histories, 'history asked again after the restart');
    expect(sent(kernel, 'history').pop()).toMatchObject({ chat: 'older' });
    await until(() => !!panel.node.querySelector('.kimi-restored-note'), 'the note');
    expect(panel.node.querySelector('.kimi-restored-note')?.textContent).toBe('Reopened 2 earlier turns from the transcripts file.');
    expect(prompts(panel)).toEqual(['first old question', 'second old question']);
  });
});

describe('the chat picked per notebook', () => {
  it('is saved in the state database and restored after a reload', async () => {
    const state = fakeState({ 'other/Notes.ipynb': 'notes chat' });
    const first = await open(world(), { store: state.store });
    await openMenu(first.panel);
    menuItems(first.panel).find(i => i.dataset.chat === 'older')!.click();
    await until(() => state.db.value['work/Analysis.ipynb'] === 'older', 'the choice was saved');
    expect(state.db.value).toEqual({ 'other/Notes.ipynb': 'notes chat', 'work/Analysis.ipynb': 'older' });
    first.panel.dispose();

    // A reloaded page: a new panel and client, the same state database.
    const second = await open(world(), { store: state.store });
    expect(second.panel.binding?.chat).toBe('older');
    const histories = sent(second.kernel, 'history');
    expect(histories.map(h => h.chat)).toEqual(['older']); // the notebook's own chat is never loaded first
    await until(() => prompts(second.panel).length === 2, 'the picked chat is shown');

    // Another notebook shows its own chat (or the one picked for it); switching back restores the pick.
    second.panel.bind({ notebook: 'Other.ipynb', path: 'Other.ipynb', chat: 'Other', client: second.client });
    await settle();
    expect(second.panel.binding?.chat).toBe('Other');
    second.panel.bind({ notebook: 'Notes.ipynb', path: 'other/Notes.ipynb', chat: 'other/Notes', client: second.client });
    await settle();
    expect(second.panel.binding?.chat).toBe('notes chat');
    second.panel.bind({ ...NOTEBOOK, client: second.client });
    await settle();
    expect(second.panel.binding?.chat).toBe('older');

    // Picking the notebook's own chat again forgets the choice.
    await openMenu(second.panel);
    menuItems(second.panel).find(i => i.dataset.chat === 'work/Analysis')!.click();
    await until(() => !('work/Analysis.ipynb' in state.db.value), 'the choice was dropped');
    expect(second.panel.binding?.chat).toBe('work/Analysis');
  });

  it('a renamed notebook keeps its conversation, its own chat or the one picked', async () => {
    const state = fakeState({ 'work/Picked.ipynb': 'older' });
    const { panel, client } = await open(world(), { store: state.store });
    // Its own chat: the new path is remembered to show the old one.
    panel.notebookMoved({ path: 'work/Analysis.ipynb', chat: 'work/Analysis' }, { path: 'work/Q3.ipynb', chat: 'work/Q3' });
    panel.bind({ notebook: 'Q3.ipynb', path: 'work/Q3.ipynb', chat: 'work/Q3', client });
    await settle();
    expect(panel.binding?.chat).toBe('work/Analysis');
    await until(() => state.db.value['work/Q3.ipynb'] === 'work/Analysis', 'saved under the new path');
    // A picked chat moves with the notebook, and the old path forgets it.
    panel.notebookMoved({ path: 'work/Picked.ipynb', chat: 'work/Picked' }, { path: 'archive/Picked.ipynb', chat: 'archive/Picked' });
    await until(() => state.db.value['archive/Picked.ipynb'] === 'older', 'the pick moved');
    expect('work/Picked.ipynb' in state.db.value).toBe(false);
  });
});

import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';

/**
 * A rendermime stand-in: Markdown code fences become <pre>, the rest a paragraph. `calls`
 * records every rendered source, in order.
 */
export function fakeRendermime(calls: string[] = []): IRenderMimeRegistry {
  return {
    createModel: (options: { data: Record<string, string> }) => options,
    createRenderer: () => {
      const node = document.createElement('div');
      return {
        node,
        dispose: () => undefined,
        renderModel: async (model: { data: Record<string, string> }) => {
          const md = model.data['text/markdown'];
          calls.push(md);
          const fence = /```\w*\n([\s\S]*?)```/.exec(md);
          node.innerHTML = '';
          const p = document.createElement('p');
          p.textContent = md.replace(/```[\s\S]*?```/, '').trim();
          node.append(p);
          if (fence) {
            const pre = document.createElement('pre');
            pre.textContent = fence[1];
            node.append(pre);
          }
        }
      };
    }
  } as unknown as IRenderMimeRegistry;
}

// The knowledge tree: search (hybrid linker or lexical, as the server says), tissues → diseases →
// attributes with their provenance, and "use as classes": the ticked diseases become a prompt set
// and the slide is re-scored from its stored features.
import { type ClassScores, type Disease, getJson, type KnowledgeHit, postJson, slideUrl } from './api.ts';
import { clear, fmt, h } from './dom.ts';
import type { ViewerState } from './main.ts';

export class KnowledgePanel {
  readonly el = h('div', { id: 'knowledge' });
  private readonly chosen = new Map<string, string>();
  private readonly chosenBox = h('div', { id: 'chosen' });
  private readonly results = h('div', { id: 'knowledge-results' });
  private readonly detail = h('div', { id: 'disease' });
  private loaded = false;

  constructor(
    private readonly state: ViewerState,
    private readonly use: (c: ClassScores) => Promise<void>,
    private readonly fail: (e: unknown) => void,
  ) {
    const input = h('input', {
      type: 'search',
      id: 'knowledge-q',
      placeholder: 'search diseases',
      maxlength: 500,
    });
    const form = h(
      'form',
      { onsubmit: (e: Event) => (e.preventDefault(), void this.search(input.value).catch(fail)) },
      input,
      h('button', { type: 'submit' }, 'Search'),
    );
    this.el.append(
      h('p', { class: 'muted' }, `ranker: ${state.run.knowledge?.ranker ?? ''}`),
      form,
      this.chosenBox,
      this.results,
      this.detail,
    );
    this.renderChosen();
  }

  slideChanged(): void {
    if (this.loaded) return;
    this.loaded = true;
    void this.tissues().catch(this.fail);
  }

  private async tissues(): Promise<void> {
    const k = await getJson<{ tissues: { id: string; name: string; diseases: number }[] }>('/api/knowledge');
    clear(
      this.results,
      h('h3', {}, 'Tissues'),
      h(
        'ul',
        { class: 'tree' },
        ...k.tissues.map((t) =>
          h(
            'li',
            {},
            h(
              'a',
              {
                href: '#',
                onclick: (e: Event) => (e.preventDefault(), void this.tissue(t.id).catch(this.fail)),
              },
              `${t.name} (${t.diseases})`,
            ),
          ),
        ),
      ),
    );
  }

  private async tissue(id: string): Promise<void> {
    const t = await getJson<{ name: string; diseases: { id: string; name: string }[] }>(
      `/api/knowledge/tissue?id=${encodeURIComponent(id)}`,
    );
    clear(
      this.results,
      h('h3', {}, t.name),
      h('ul', { class: 'tree' }, ...t.diseases.map((d) => this.diseaseRow(d.id, d.name))),
    );
  }

  private async search(q: string): Promise<void> {
    if (q.trim() === '') return this.tissues();
    const r = await getJson<{ hits: KnowledgeHit[] }>(`/api/knowledge/search?q=${encodeURIComponent(q)}`);
    clear(
      this.results,
      h('h3', {}, `Matches for “${q}”`),
      h(
        'ul',
        { class: 'tree' },
        ...r.hits.map((x) => this.diseaseRow(x.id, x.name, `${x.tissue} · ${fmt(x.score, 3)} · ${x.via}`)),
      ),
    );
  }

  private diseaseRow(id: string, name: string, note?: string): HTMLElement {
    const box = h('input', {
      type: 'checkbox',
      'data-disease': id,
      ...(this.chosen.has(id) ? { checked: true } : {}),
    });
    box.addEventListener('change', () => {
      if (box.checked) this.chosen.set(id, name);
      else this.chosen.delete(id);
      this.renderChosen();
    });
    const link = h(
      'a',
      { href: '#', onclick: (e: Event) => (e.preventDefault(), void this.disease(id).catch(this.fail)) },
      name,
    );
    return h('li', {}, box, ' ', link, note ? h('span', { class: 'muted' }, ` ${note}`) : null);
  }

  private async disease(id: string): Promise<void> {
    const d = await getJson<Disease>(`/api/knowledge/disease?id=${encodeURIComponent(id)}`);
    clear(
      this.detail,
      h('h3', {}, `${d.name} `, h('span', { class: 'muted' }, `${d.id} · ${d.tissue}`)),
      h(
        'ul',
        { class: 'attributes' },
        ...d.attributes.map((a) =>
          h(
            'li',
            {},
            h('b', {}, a.kind),
            ` ${a.text} `,
            h(
              'span',
              { class: 'muted' },
              a.provenance.map((p) => `${p.source} ${p.ref} (${p.licence})`).join('; '),
            ),
          ),
        ),
      ),
    );
  }

  private renderChosen(): void {
    const slide = this.state.slide;
    const button = h(
      'button',
      { id: 'use-classes', ...(this.chosen.size < 2 || !slide ? { disabled: true } : {}) },
      'Use as classes',
    );
    button.addEventListener('click', () => void this.rescore().catch(this.fail));
    clear(
      this.chosenBox,
      h('p', {}, `chosen: ${[...this.chosen.values()].join(', ') || 'none (tick two or more)'}`),
      button,
    );
  }

  private async rescore(): Promise<void> {
    const s = this.state.slide;
    if (!s) return;
    const c = await postJson<ClassScores>(slideUrl(s.id, 'rescore'), { diseases: [...this.chosen.keys()] });
    await this.use(c);
  }
}

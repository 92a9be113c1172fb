// The right-hand panels. Heatmaps come from one place: `sources`, a name → per-patch values map
// filled by the run's classes, classes chosen in the knowledge tree and text searches.
import OpenSeadragon from 'openseadragon';
import { type ClassScores, getJson, type PatchInfo, type SearchResult, slideUrl } from './api.ts';
import { colourBar } from './colour.ts';
import { clear, fmt, h } from './dom.ts';
import { KnowledgePanel } from './knowledge-panel.ts';
import type { ViewerState } from './main.ts';
import { RunsPanel } from './runs-panel.ts';

export class Panels {
  private readonly sources = new Map<string, number[]>();
  private heat = '';
  private readonly heatSelect = h('select', { id: 'heat' });
  private readonly bar = h('div', { id: 'colourbar' });
  private readonly classBox = h('div', { id: 'class-scores' });
  private readonly patchBox = h('div', { id: 'patch' });
  private readonly searchBox = h('div', { id: 'search-results' });
  private readonly message = h('p', { id: 'message', class: 'err' });
  private readonly knowledge: KnowledgePanel;
  private readonly runs: RunsPanel;

  constructor(
    private readonly state: ViewerState,
    el: HTMLElement,
  ) {
    this.knowledge = new KnowledgePanel(state, (c) => this.useClasses(c), this.showError);
    this.runs = new RunsPanel(this.showError);
    const tabs = h('nav', { class: 'tabs' });
    const body = h('div', { class: 'tab-body' });
    const pages: [string, HTMLElement][] = [
      ['Overlays', this.overlaysPage()],
      ['Search', this.searchPage()],
      ...(state.run.knowledge ? ([['Knowledge', this.knowledge.el]] as [string, HTMLElement][]) : []),
      ...(state.run.trainingRuns.length ? ([['Runs', this.runs.el]] as [string, HTMLElement][]) : []),
    ];
    const show = (name: string): void => {
      tabs.querySelectorAll('button').forEach((b) => b.classList.toggle('active', b.textContent === name));
      clear(body, pages.find(([n]) => n === name)![1]);
      if (name === 'Runs') void this.runs.load(state.run.trainingRuns);
    };
    for (const [name] of pages)
      tabs.append(h('button', { 'data-tab': name, onclick: () => show(name) }, name));
    el.append(tabs, this.message, body);
    show(pages[0]![0]);
  }

  showError = (err: unknown): void => {
    this.message.textContent = (err as Error).message ?? String(err);
  };

  private overlaysPage(): HTMLElement {
    const o = this.state.overlay;
    const check = (id: string, label: string, on: boolean, set: (v: boolean) => void) =>
      h(
        'label',
        {},
        h('input', {
          type: 'checkbox',
          id,
          ...(on ? { checked: true } : {}),
          onchange: (e: Event) => (set((e.target as HTMLInputElement).checked), o.draw()),
        }),
        ` ${label}`,
      );
    this.heatSelect.addEventListener('change', () => this.setHeat(this.heatSelect.value));
    const opacity = h('input', {
      type: 'range',
      id: 'opacity',
      min: 0,
      max: 1,
      step: 0.05,
      value: o.opacity,
    });
    opacity.addEventListener('input', () => ((o.opacity = Number(opacity.value)), o.draw()));
    return h(
      'div',
      {},
      check('show-tissue', 'tissue contours', o.showTissue, (v) => (o.showTissue = v)),
      check('show-grid', 'patch grid', o.showGrid, (v) => (o.showGrid = v)),
      h('label', {}, 'heatmap ', this.heatSelect),
      h('label', {}, 'opacity ', opacity),
      this.bar,
      this.classBox,
      h('h3', {}, 'Patch'),
      this.patchBox,
    );
  }

  private searchPage(): HTMLElement {
    const input = h('input', {
      type: 'search',
      id: 'search-text',
      placeholder: 'e.g. tumour necrosis',
      maxlength: 500,
    });
    const go = async (): Promise<void> => {
      const s = this.state.slide;
      if (!s || input.value.trim() === '') return;
      const r = await getJson<SearchResult>(
        slideUrl(s.id, `search?text=${encodeURIComponent(input.value)}&top=8`),
      );
      this.addSource(`search: ${r.text}`, r.scores);
      this.state.overlay.marks = r.top.map((t) => t.index);
      this.showSearch(r);
    };
    const form = h(
      'form',
      { id: 'search-form', onsubmit: (e: Event) => (e.preventDefault(), void go().catch(this.showError)) },
      input,
      h('button', { type: 'submit' }, 'Search'),
    );
    return h(
      'div',
      {},
      h(
        'p',
        { class: 'muted' },
        'The text is embedded by the text tower and compared with every stored patch feature.',
      ),
      form,
      this.searchBox,
    );
  }

  private showSearch(r: SearchResult): void {
    const s = this.state.slide!;
    clear(
      this.searchBox,
      h('p', { class: 'muted', id: 'search-summary' }, `${r.count} patches scored in ${r.ms} ms`),
      h(
        'div',
        { class: 'thumbs' },
        ...r.top.map((t, i) =>
          h(
            'figure',
            { class: 'thumb', onclick: () => this.goTo(t.index) },
            h('img', { src: slideUrl(s.id, `patch.jpeg?index=${t.index}`), alt: `hit ${i + 1}` }),
            h('figcaption', {}, `${i + 1}. ${fmt(t.score)}`),
          ),
        ),
      ),
    );
  }

  private goTo(index: number): void {
    const o = this.state.overlay;
    const p = o.patches!;
    const vp = this.state.viewer.viewport;
    const size = p.patchSizeLevel0;
    const r = vp.imageToViewportRectangle(
      new OpenSeadragon.Rect(
        p.coords[2 * index]! - size,
        p.coords[2 * index + 1]! - size,
        size * 3,
        size * 3,
      ),
    );
    vp.fitBounds(r);
    o.selected = index;
    o.draw();
    void this.showPatch(index);
  }

  private addSource(name: string, values: number[]): void {
    this.sources.set(name, values);
    this.refreshSelect(name);
    this.setHeat(name);
  }

  private refreshSelect(selected: string): void {
    clear(
      this.heatSelect,
      h('option', { value: '' }, 'none'),
      ...[...this.sources.keys()].map((k) =>
        h('option', { value: k, ...(k === selected ? { selected: true } : {}) }, k),
      ),
    );
  }

  private setHeat(name: string): void {
    this.heat = name;
    this.heatSelect.value = name;
    const v = this.sources.get(name);
    this.state.overlay.setHeat(v);
    clear(
      this.bar,
      v && v.length ? colourBar(Math.min(...v), Math.max(...v), 'rank within the slide') : null,
    );
  }

  private showClasses(c: ClassScores, prefix: string): void {
    c.labels.forEach((label, k) => this.sources.set(`${prefix}${label}`, c.scores[k]!));
    this.refreshSelect(this.heat);
    const last = c.pooled.at(-1) ?? [];
    clear(
      this.classBox,
      h('p', { class: 'muted' }, `classes: ${c.origin}`),
      h(
        'table',
        {},
        h('tr', {}, h('th', {}, 'class'), h('th', {}, `top-${c.ks.at(-1)} mean`)),
        ...c.labels.map((l, k) =>
          h('tr', { class: l === c.predicted ? 'best' : '' }, h('td', {}, l), h('td', {}, fmt(last[k] ?? 0))),
        ),
      ),
      h('p', {}, 'prediction: ', h('strong', { id: 'prediction' }, c.predicted)),
    );
  }

  async useClasses(c: ClassScores): Promise<void> {
    for (const k of [...this.sources.keys()]) if (k.startsWith('chosen: ')) this.sources.delete(k);
    this.showClasses(c, 'chosen: ');
    this.setHeat(`chosen: ${c.labels[0]}`);
  }

  async showPatch(index: number): Promise<void> {
    const s = this.state.slide!;
    const p = await getJson<PatchInfo>(slideUrl(s.id, `patch?index=${index}`));
    clear(
      this.patchBox,
      h('p', {}, `#${p.index} at (${p.x}, ${p.y}), ${p.size} px at level 0`),
      p.classes.length
        ? h(
            'table',
            {},
            ...p.classes.map((c) => h('tr', {}, h('td', {}, c.label), h('td', {}, fmt(c.score)))),
          )
        : null,
      p.topPrompts.length
        ? h(
            'ol',
            { class: 'prompts' },
            ...p.topPrompts.map((t) => h('li', {}, `${t.caption} (${t.label}) ${fmt(t.score)}`)),
          )
        : null,
    );
  }

  async slideChanged(): Promise<void> {
    this.sources.clear();
    clear(this.classBox);
    clear(this.patchBox);
    clear(this.searchBox);
    this.message.textContent = '';
    const s = this.state.slide;
    if (s && this.state.overlay.patches && this.state.run.classes) {
      const c = await getJson<ClassScores>(slideUrl(s.id, 'classes'));
      this.showClasses(c, '');
      this.setHeat('');
    } else this.refreshSelect('');
    this.knowledge.slideChanged();
  }
}

// The viewer app: slides on the left, the slide (OpenSeadragon over the server's Deep Zoom tiles)
// with its overlays in the middle, and the panels (overlays, text search, knowledge tree, training
// runs) on the right.
import OpenSeadragon from 'openseadragon';
import { getJson, type Patches, type RunInfo, type SlideInfo, slideUrl } from './api.ts';
import { clear, h } from './dom.ts';
import { Overlay } from './overlay.ts';
import { Panels } from './panels.ts';
import './style.css';

export interface ViewerState {
  run: RunInfo;
  slide: SlideInfo | undefined;
  viewer: OpenSeadragon.Viewer;
  overlay: Overlay;
}

function header(run: RunInfo): HTMLElement {
  return h(
    'header',
    {},
    h('strong', {}, 'kep'),
    ` · ${run.name}`,
    run.model ? h('span', { class: 'muted' }, ` · text tower: ${run.model}`) : null,
    run.untrained ? h('span', { class: 'warn' }, 'UNTRAINED MODEL: scores are random') : null,
  );
}

function problemsBox(problems: string[]): HTMLElement | null {
  if (problems.length === 0 || document.getElementById('problems')) return null;
  return h(
    'section',
    { class: 'problems', id: 'problems' },
    h('h2', {}, 'Problems with this folder'),
    h('ul', {}, ...problems.map((p) => h('li', {}, p))),
  );
}

function slideCard(s: SlideInfo, open: (s: SlideInfo) => void): HTMLElement {
  return h(
    'button',
    { class: `slide ${s.status}`, 'data-slide': s.id, onclick: () => open(s) },
    s.thumbnail ? h('img', { src: s.thumbnail, alt: '' }) : null,
    h('span', { class: 'name' }, s.id),
    h('span', { class: 'meta' }, `${s.status}${s.nPatches !== null ? ` · ${s.nPatches} patches` : ''}`),
    s.prediction ? h('span', { class: 'meta' }, `prediction: ${s.prediction}`) : null,
    s.error ? h('span', { class: 'err' }, s.error) : null,
    ...s.problems.map((p) => h('span', { class: 'err' }, p)),
  );
}

async function openSlide(state: ViewerState, panels: Panels, s: SlideInfo): Promise<void> {
  state.slide = s;
  document
    .querySelectorAll('.slide')
    .forEach((b) => b.classList.toggle('active', b.getAttribute('data-slide') === s.id));
  state.overlay.setPatches(undefined);
  state.overlay.setTissue({});
  if (s.width && s.height) {
    state.viewer.open({
      width: s.width,
      height: s.height,
      tileSize: 254,
      tileOverlap: 1,
      getTileUrl: (level: number, x: number, y: number) => slideUrl(s.id, `tiles/${level}/${x}_${y}.jpeg`),
    } as unknown as OpenSeadragon.TileSourceSpecifier);
  } else if (s.thumbnail)
    state.viewer.open({ type: 'image', url: s.thumbnail } as unknown as OpenSeadragon.TileSourceSpecifier);
  if (s.files.includes('tissue.geojson'))
    state.overlay.setTissue(await getJson(slideUrl(s.id, 'files/tissue.geojson')));
  if (s.status === 'done' || s.status === 'skipped') {
    const hasFeatures = !s.problems.some((p) => p.includes('features.h5'));
    if (hasFeatures) state.overlay.setPatches(await getJson<Patches>(slideUrl(s.id, 'patches')));
  }
  state.overlay.draw();
  await panels.slideChanged();
}

function clickHandler(state: ViewerState, panels: Panels): void {
  state.viewer.addHandler('canvas-click', (e) => {
    if (!e.quick || !state.overlay.patches) return;
    const p = state.viewer.viewport.viewerElementToImageCoordinates(e.position);
    const i = state.overlay.patchAt(p.x, p.y);
    state.overlay.selected = i;
    state.overlay.draw();
    if (i !== undefined) void panels.showPatch(i);
  });
}

async function start(): Promise<void> {
  const root = document.getElementById('app')!;
  const run = await getJson<RunInfo>('/api/run');
  const slides = run.slides > 0 ? await getJson<SlideInfo[]>('/api/slides') : [];
  const viewerEl = h('div', { id: 'viewer' });
  const sideEl = h('aside', { id: 'side' });
  const list = h('aside', { id: 'slides' });
  clear(
    root,
    header(run),
    problemsBox(run.problems),
    h('main', { class: 'layout' }, list, h('section', { id: 'stage' }, viewerEl), sideEl),
  );
  const viewer = OpenSeadragon({
    element: viewerEl,
    drawer: 'canvas',
    showNavigationControl: false,
    showNavigator: true,
    navigatorPosition: 'BOTTOM_RIGHT',
    crossOriginPolicy: false,
    maxZoomPixelRatio: 2,
    visibilityRatio: 0.5,
    gestureSettingsMouse: { clickToZoom: false },
  } as OpenSeadragon.Options);
  const state: ViewerState = { run, slide: undefined, viewer, overlay: new Overlay(viewer) };
  const panels = new Panels(state, sideEl);
  clickHandler(state, panels);
  const open = (s: SlideInfo): void => void openSlide(state, panels, s).catch(panels.showError);
  clear(list, ...slides.map((s) => slideCard(s, open)));
  if (slides.length === 0) list.append(h('p', { class: 'muted' }, 'No slides in this folder.'));
  const first = slides.find((s) => s.width) ?? slides[0];
  if (first) open(first);
  else await panels.slideChanged();
}

start().catch((err: unknown) => {
  document
    .getElementById('app')!
    .append(h('p', { class: 'err' }, `The viewer could not start: ${(err as Error).message}`));
});

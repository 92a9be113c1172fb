// The viewer in a real browser: Debian's chromium (no browser download) driven by playwright-core
// opens the app over a run made here, waits for Deep Zoom tiles to be drawn, shows a class heatmap,
// runs a text search and re-scores with diseases from the knowledge tree; the page's console must
// stay free of errors. A screenshot is left in the test's temp folder (KEP_SERVE_SCREENSHOT copies it).
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type BrowserContext, chromium } from 'playwright-core';
import { type RunningServer, startServer } from './serve.ts';
import { makeRun, makeTree } from './testing.ts';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const dir = mkdtempSync(join(tmpdir(), 'kep-viewer-'));
let server: RunningServer | undefined;
let browser: BrowserContext | undefined;
after(async () => {
  await browser?.close();
  await server?.close();
  if (!process.env.KEEP_VIEWER_TMP) rmSync(dir, { recursive: true, force: true });
});

/** Distinct colours in the drawn slide canvas (a blank or one-colour canvas has one or two). */
const CANVAS_COLOURS = `(() => {
  const c = document.querySelector('#viewer .openseadragon-canvas canvas');
  if (!c || c.width === 0) return 0;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const seen = new Set();
  for (let i = 0; i < d.length; i += 4 * 7) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
  return seen.size;
})()`;

/** Pixels the overlay canvas has painted (heatmap rectangles, contours). */
const OVERLAY_PIXELS = `(() => {
  const c = document.querySelector('canvas.overlay');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
  return n;
})()`;

test(
  'the viewer in chromium: tiles, a heatmap, a text search, diseases as classes; no console errors',
  {
    skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install chromium)`,
    timeout: 240_000,
  },
  async () => {
    const run = makeRun(dir);
    server = await startServer({ runDir: run, port: 0, tree: makeTree(dir) });
    browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1280, height: 800 },
    });
    const page = browser.pages()[0] ?? (await browser.newPage());
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    const tiles: string[] = [];
    page.on('response', (r) => {
      if (/\/tiles\/\d+\/\d+_\d+\.jpeg$/.test(r.url()) && r.status() === 200) tiles.push(r.url());
      if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`);
    });

    await page.goto(server.url);
    await page.waitForFunction(`${CANVAS_COLOURS} > 200`, undefined, { timeout: 60_000 });
    assert.ok(tiles.length > 0, 'tiles were fetched');

    const before = (await page.evaluate(OVERLAY_PIXELS)) as number;
    await page.selectOption('#heat', 'tumour');
    await page.waitForFunction(`${OVERLAY_PIXELS} > ${before + 1000}`);
    assert.match((await page.textContent('#class-scores')) ?? '', /prediction: (tumour|stroma)/);

    await page.click('button[data-tab="Search"]');
    await page.fill('#search-text', 'tumour necrosis');
    await page.press('#search-text', 'Enter');
    await page.waitForSelector('#search-summary');
    assert.match((await page.textContent('#search-summary')) ?? '', /^50 patches scored in \d+ ms$/);
    await page.waitForFunction(
      `[...document.querySelectorAll('.thumb img')].filter((i) => i.complete && i.naturalWidth > 0).length === 8`,
    );
    await page.click('button[data-tab="Overlays"]');
    assert.equal(await page.inputValue('#heat'), 'search: tumour necrosis');

    await page.click('button[data-tab="Knowledge"]');
    await page.fill('#knowledge-q', 'adenocarcinoma');
    await page.press('#knowledge-q', 'Enter');
    await page.waitForSelector('#knowledge-results input[data-disease]');
    const boxes = page.locator('#knowledge-results input[data-disease]');
    await boxes.nth(0).check();
    await boxes.nth(1).check();
    await page.click('#use-classes');
    await page.click('button[data-tab="Overlays"]');
    await page.waitForFunction(`document.querySelector('#heat')?.value.startsWith('chosen: ')`);

    const shot = join(dir, 'viewer.png');
    await page.click('button[data-tab="Search"]');
    await page.waitForSelector('.thumb img');
    await page.screenshot({ path: shot });
    assert.ok(statSync(shot).size > 20_000);
    if (process.env.KEP_SERVE_SCREENSHOT) copyFileSync(shot, process.env.KEP_SERVE_SCREENSHOT);
    assert.deepEqual(errors, []);
  },
);

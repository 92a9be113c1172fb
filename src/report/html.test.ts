import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml, lineChart, page, table } from './html.ts';

test('report pieces escape text and draw every point', () => {
  assert.equal(escapeHtml(`<a href="x">&'</a>`), '&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;');
  const t = table(['k', 'n'], [['<b>', 3]]);
  assert.match(t, /<td>&lt;b&gt;<\/td><td class="num">3<\/td>/);
  const svg = lineChart(
    [
      {
        label: 'loss',
        color: '#000',
        points: [
          [1, 2],
          [2, 1],
          [3, 0.5],
        ],
      },
    ],
    { title: 'T', xLabel: 'step', yLabel: 'loss' },
  );
  assert.match(svg, /^<svg /);
  assert.equal((svg.match(/[ML]\d/g) ?? []).length, 3);
  assert.equal(lineChart([], { title: '', xLabel: '', yLabel: '' }), '');
  // Whole-number x values (steps) get whole-number tick labels.
  const steps = lineChart(
    [
      {
        label: 'l',
        color: '#000',
        points: [
          [1, 1],
          [150, 2],
        ],
      },
    ],
    { title: '', xLabel: '', yLabel: '' },
  );
  const xLabels = [...steps.matchAll(/y="270" text-anchor="middle">([^<]*)</g)].map((m) => m[1]);
  assert.deepEqual(xLabels, ['1', '31', '61', '90', '120', '150']);
  assert.match(page('a & b', '<p>x</p>'), /<title>a &amp; b<\/title>/);
});

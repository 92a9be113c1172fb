// The HTML shell of the app. Problems with the run folder are written into it by the server, so a
// malformed folder gives a page that says what is wrong even before (or without) the script.
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function appPage(title: string, problems: readonly string[]): string {
  const list = problems.length
    ? `<section id="problems" class="problems"><h2>This folder is not a complete kep run</h2><ul>${problems
        .map((p) => `<li>${escapeHtml(p)}</li>`)
        .join('')}</ul></section>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/app.css"></head>
<body>${list}<div id="app"></div><script type="module" src="/app.js"></script></body></html>
`;
}

import type { EvalReport } from './report.js';
import { formatReport } from './report.js';
import type { LookMeasurement, PhotoResult, VariantMeasurement } from './types.js';

function esc(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function nmeCell(v: VariantMeasurement): string {
  const scored = v.nme.filter((x): x is number => x !== null);
  const mean = scored.length ? (scored.reduce((a, b) => a + b, 0) / scored.length).toFixed(3) : '–';
  const max = scored.length ? Math.max(...scored).toFixed(3) : '–';
  const kept = v.retained.filter(Boolean).length;
  return `<td>${mean}</td><td>${max}</td><td>${kept}/${v.retained.length}</td><td>${v.seconds.toFixed(2)}</td>`;
}

function meanCell(values: (number | null)[] | undefined): string {
  const v = (values ?? []).filter((x): x is number => x !== null);
  return `<td>${v.length ? (v.reduce((a, b) => a + b, 0) / v.length).toFixed(3) : '–'}</td>`;
}

function lookCells(look: LookMeasurement | undefined): string {
  return [look?.styleGap, look?.detailRatio, look?.irisChromaRatio, look ? [look.pictureDetailRatio] : undefined].map(meanCell).join('');
}

function photoSection(p: PhotoResult): string {
  const head = `<h3 id="${esc(p.task.name)}">${esc(p.task.name)}</h3>`;
  if (p.error) return `${head}<p class="err">${esc(p.error)}</p>`;
  const faces = p.input?.faces ?? [];
  const rows = p.styles
    .map((s) => `<tr><td>${esc(s.style)}</td>${nmeCell(s.plain)}${nmeCell(s.ours)}${lookCells(s.look)}<td>${s.ours.humanFaces}/${s.ours.reportedFaces}</td></tr>`)
    .join('');
  return `${head}
<p>${p.input?.width}×${p.input?.height}, ${faces.length} faces detected, ${faces.filter((f) => f.evaluated).length} scored</p>
<table><tr><th rowspan="2">style</th><th colspan="4">plain</th><th colspan="4">ours</th><th colspan="4">look, mean over faces (ours vs plain)</th><th rowspan="2">human / reported</th></tr>
<tr><th>mean NME</th><th>max NME</th><th>retained</th><th>s</th><th>mean NME</th><th>max NME</th><th>retained</th><th>s</th><th>style gap</th><th>skin detail</th><th>iris chroma</th><th>picture detail</th></tr>${rows}</table>
${p.sheet ? `<a href="${encodeURI(p.sheet)}"><img loading="lazy" src="${encodeURI(p.sheet)}" alt="${esc(p.task.name)}"></a>` : ''}`;
}

/** index.html for --out: the summary table, then every photo's contact sheet with its numbers. */
export function indexHtml(report: EvalReport, photos: PhotoResult[]): string {
  const sorted = [...photos].sort((a, b) => a.task.name.localeCompare(b.task.name));
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Face fidelity eval: plain vs ours</title>
<style>body{font-family:sans-serif;margin:1em;background:#fafafa}pre{background:#fff;padding:1em;overflow:auto}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}
img{max-width:100%;display:block}.err{color:#c00}</style></head><body>
<h1>Face fidelity: plain stylisation vs face-aware pipeline</h1>
<p>Box colours on the outputs: green NME ≤ 0.05, orange ≤ 0.08, red above (deformed), grey not scored; blue = input face.</p>
<pre>${esc(formatReport(report))}</pre>
${sorted.map(photoSection).join('\n')}
</body></html>
`;
}

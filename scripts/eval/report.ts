import {
  EVALUATOR_CONSISTENT_NME,
  DEFORMED_NME,
  DEFORMED_NME_STRICT,
  NON_HUMAN_CATEGORIES,
  summariseRecall,
  summariseSanity,
  summariseStyle,
  type DeformedFace,
  type GroupSummary,
  type RecallSummary,
  type SanitySummary,
  type StyleSummary,
  type VariantSummary,
} from './aggregate.js';
import type { LookFace, LookGroup, LookStat, LookSummary, PictureDetail } from './lookstats.js';
import type { EvalConfig, PhotoResult } from './types.js';

export interface EvalReport extends StyleSummary {
  /** The style the top-level plain/ours/per_category numbers are for (the first one evaluated). */
  style: string;
  recall: RecallSummary;
  /** The 68-point evaluation model against annotated landmarks: how far the evaluator itself can be trusted. */
  evaluator: SanitySummary;
  /** Every evaluated style, when more than one was asked for. */
  styles?: Record<string, StyleSummary>;
  settings: {
    max_side: number;
    min_face: number;
    /** int8: style models run int8 where the quantiser chose it (else fp32); absent in older runs. */
    precision?: 'int8' | 'fp32';
    deformed_nme: number;
    deformed_nme_strict: number;
    retention_iou: number;
    /** Output score at which an input face counts as kept (strict retention uses the input's 0.6). */
    retention_score: number;
    /** Categories left out of the top-level numbers (no real human faces there). */
    overall_excludes: string[];
    revision: string;
  };
  errors: { photo: string; error: string }[];
}

export function buildReport(photos: PhotoResult[], config: EvalConfig, retention: { iou: number; score: number }): EvalReport {
  const ok = photos.filter((p) => !p.error);
  const perStyle = Object.fromEntries(config.styles.map((s) => [s, summariseStyle(ok, s)]));
  const style = config.styles[0];
  return {
    style,
    ...perStyle[style],
    recall: summariseRecall(ok),
    evaluator: summariseSanity(ok),
    ...(config.styles.length > 1 ? { styles: perStyle } : {}),
    settings: {
      max_side: config.maxSide,
      min_face: config.minFace,
      precision: config.int8Dir ? 'int8' : 'fp32',
      deformed_nme: DEFORMED_NME,
      deformed_nme_strict: DEFORMED_NME_STRICT,
      retention_iou: retention.iou,
      retention_score: retention.score,
      overall_excludes: NON_HUMAN_CATEGORIES,
      revision: config.revision ?? 'unknown',
    },
    errors: photos.filter((p) => p.error).map((p) => ({ photo: p.task.name, error: p.error as string })),
  };
}

const f3 = (v: number | null) => (v === null ? '–' : v.toFixed(3));
const pct = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(1)}%`);
const sec = (v: number | null) => (v === null ? '–' : v.toFixed(2));
const pair = (a: string, b: string) => `${a.padStart(7)} ${b.padStart(7)}`;

const HEADER = [
  'category'.padEnd(14),
  'photos'.padStart(6),
  'faces'.padStart(6),
  'scored'.padStart(6),
  `${'mean NME'.padStart(15)}`,
  `${`def>${DEFORMED_NME}`.padStart(15)}`,
  `${`def>${DEFORMED_NME_STRICT}`.padStart(15)}`,
  `${'retention'.padStart(15)}`,
  `${'ret. strict'.padStart(15)}`,
  `${'s/image'.padStart(15)}`,
].join(' ');
const SUBHEADER = `${''.padEnd(14 + 3 * 7)} ${Array(6).fill(pair('plain', 'ours')).join(' ')}`;

function row(name: string, g: GroupSummary): string {
  const v = (k: keyof VariantSummary, fmt: (x: number | null) => string) => pair(fmt(g.plain[k]), fmt(g.ours[k]));
  return [
    name.padEnd(14),
    String(g.photos).padStart(6),
    String(g.faces).padStart(6),
    String(g.ours.scored_faces).padStart(6),
    v('mean_nme', f3),
    v('deformation_rate', pct),
    v('deformation_rate_strict', pct),
    v('retention', pct),
    v('retention_strict', pct),
    v('seconds_per_image', sec),
  ].join(' ');
}

export function styleTable(style: string, s: StyleSummary): string {
  const lines = [`style ${style}`, HEADER, SUBHEADER];
  for (const [c, g] of Object.entries(s.per_category)) lines.push(row(c, g));
  lines.push(row('ALL people', s), row('ALL photos', s.all_photos));
  const reported = s.reported_faces_by_category ?? {};
  const byCategory = Object.entries(s.human_faces_by_category)
    .map(([c, n]) => `${c} ${n}${reported[c] === undefined ? '' : ` of ${reported[c]} reported`}`)
    .join(', ');
  lines.push(`human faces reported in non-human photos (ours): ${s.human_faces_in_nonhuman_photos}${byCategory ? ` (${byCategory})` : ''}`);
  if (s.human_faces_by_category.anime !== undefined) {
    lines.push(`  drawn faces treated as human on anime/: ${s.human_faces_by_category.anime}`);
  }
  const c = s.consistent;
  if (c) {
    lines.push(
      `faces the evaluator places consistently (its landmarks move ≤ ${EVALUATOR_CONSISTENT_NME} when it sees the face mirrored): ` +
        `${c.scored_faces} of ${s.ours.scored_faces}; deformed > ${DEFORMED_NME} among them: plain ${pct(c.plain_deformation_rate)}, ours ${pct(c.ours_deformation_rate)}`,
    );
  }
  for (const d of s.deformed_faces ?? []) {
    lines.push(
      `  deformed (ours): ${d.photo} face ${d.face} (${d.width} px): NME plain ${f3(d.plain_nme)} → ours ${f3(d.ours_nme)}, evaluator mirror disagreement ${f3(d.evaluator_mirror_nme)}${decisionText(d.decision)}`,
    );
  }
  if (s.look) lines.push(...lookLines(s.look));
  return lines.join('\n');
}

function decisionText(d: DeformedFace['decision']): string {
  if (!d) return '';
  const drift = d.drift ? ` (drift eyes ${f3(d.drift.eyes)} brows ${f3(d.drift.brows)} mouth ${f3(d.drift.mouth)} oval ${f3(d.drift.oval)})` : '';
  return `; ${d.fix}${drift}`;
}

const lookStat = (v: LookStat) => `${f3(v.mean)}/${f3(v.median)} (${v.failing}/${v.faces})`.padStart(22);
const lookFace = (f: LookFace, m: 'style_gap' | 'detail_ratio' | 'iris_chroma_ratio') => `${f.photo}#${f.face} (${f.width} px) ${f3(f[m])}`;

/** The look measures: a table by face size on the faces plain leaves undeformed, then failures and outliers. */
export function lookLines(l: LookSummary): string[] {
  const g = l.goals;
  const row = (name: string, x: LookGroup) =>
    `${name.padEnd(26)} ${String(x.faces).padStart(5)} ${lookStat(x.style_gap)} ${lookStat(x.detail_ratio)} ${lookStat(x.iris_chroma_ratio)} ${lookStat(x.plain_iris_chroma_ratio)}`;
  const lines = [
    `look, ours vs plain (mean/median (failing/measured)); goals: style_gap ≤ ${g.style_gap_max}, detail_ratio ≥ ${g.detail_ratio_min}, iris_chroma_ratio ≥ ${g.iris_chroma_ratio_min}`,
    `${'faces'.padEnd(26)} ${'n'.padStart(5)} ${'style_gap'.padStart(22)} ${'detail_ratio'.padStart(22)} ${'iris chroma ours/input'.padStart(22)} ${'iris plain/input'.padStart(22)}`,
  ];
  for (const [size, x] of Object.entries(l.plain_not_deformed.by_size)) if (x.faces) lines.push(row(`plain NME ≤ ${g.plain_undeformed_nme}, ${size} px`, x));
  lines.push(row(`plain NME ≤ ${g.plain_undeformed_nme}, all`, l.plain_not_deformed));
  for (const [size, x] of Object.entries(l.all_scored.by_size)) if (x.faces) lines.push(row(`all scored, ${size} px`, x));
  lines.push(row('all scored', l.all_scored));
  for (const [c, x] of Object.entries(l.per_category)) lines.push(row(`  ${c}`, x));
  const pictureLine = (label: string, p: PictureDetail) =>
    `${label}: mean ${f3(p.mean)}, median ${f3(p.median)}, min ${f3(p.min)} over ${p.photos} photos; ` +
    `below the goal: ${p.below_goal.length}${p.below_goal.length ? ` (${p.below_goal.map((b) => `${b.photo} ${f3(b.detail_ratio)}`).join(', ')})` : ''}`;
  lines.push(pictureLine(`whole-picture detail_ratio (ours/plain, goal ≥ ${g.picture_detail_ratio_min} on every photo)`, l.picture_detail_ratio));
  const u = l.picture_detail_ratio_plain_undeformed;
  if (u) lines.push(pictureLine(`  on the photos where plain deforms no scored face (plain NME ≤ ${g.plain_undeformed_nme} on each)`, u));
  const b = l.background_detail_ratio;
  if (b) lines.push(`  away from the faces (outside every face's landmark crop): mean ${f3(b.mean)}, median ${f3(b.median)}, min ${f3(b.min)} over ${b.photos} photos`);
  const n = l.no_face_mean_abs_diff;
  lines.push(`photos with no face detected: mean |ours − plain| ${f3(n.mean)} (max ${f3(n.max)}, RGB 0–255) over ${n.photos} photos`);
  const goals = { style_gap: `> ${g.style_gap_max}`, detail_ratio: `< ${g.detail_ratio_min}`, iris_chroma_ratio: `< ${g.iris_chroma_ratio_min}` } as const;
  for (const m of ['style_gap', 'detail_ratio', 'iris_chroma_ratio'] as const) {
    const fails = l.failing[m];
    lines.push(`  ${m} ${goals[m]}: ${fails.length} faces${fails.length ? `: ${fails.map((f) => lookFace(f, m)).join(', ')}` : ''}`);
  }
  for (const m of ['style_gap', 'detail_ratio', 'iris_chroma_ratio'] as const) {
    if (l.worst[m].length) lines.push(`  worst ${m}: ${l.worst[m].map((f) => `${lookFace(f, m)} (plain NME ${f3(f.plain_nme)})`).join(', ')}`);
  }
  return lines;
}

/** The human-readable summary: one table per style, then detection recall and the evaluator's own error. */
export function formatReport(r: EvalReport): string {
  const out: string[] = [];
  const styles = r.styles ?? { [r.style]: r };
  for (const [id, s] of Object.entries(styles)) out.push(styleTable(id, s), '');
  const rc = r.recall;
  out.push(
    rc.images === 0
      ? 'detection recall: no photo in this run has annotated face boxes'
      : `detection recall vs annotated boxes: ${pct(rc.recall_iou50)} at IoU≥0.5, ${pct(rc.recall_iou40)} at IoU≥0.4 (${rc.truth_faces} faces in ${rc.images} photos: ${rc.per_image.map((p) => `${p.photo} ${p.matched50}/${p.truth}`).join(', ')})`,
  );
  const ev = r.evaluator;
  out.push(
    `evaluator noise floor (same input after a JPEG q75 round trip): mean NME ${f3(ev.noise_floor_nme)}, ` +
      `${pct(ev.noise_floor_over_strict)} of faces above ${DEFORMED_NME_STRICT}, retention ${pct(ev.noise_floor_retention)}`,
  );
  if (ev.per_image.length) {
    out.push(
      `evaluator (68-pt model) vs annotations: NME ${f3(ev.mean_nme_68)} on 68-pt human annotations (outer-eye-corner norm), ` +
        `${f3(ev.mean_nme_5)} on 5-pt annotations (eye-centre norm)`,
    );
    for (const p of ev.per_image) out.push(`  ${p.photo.padEnd(44)} ${String(p.points).padStart(2)} pts  NME ${p.nme === null ? 'no face detected' : f3(p.nme)}`);
  }
  out.push(
    `settings: code ${r.settings.revision}, ${r.settings.precision ?? 'fp32'}, max side ${r.settings.max_side}, faces narrower than ${r.settings.min_face} px are counted but not scored, ` +
      `retention at IoU≥${r.settings.retention_iou} and output score ≥ ${r.settings.retention_score ?? 0.6} (strict: ≥ 0.6); "ALL people" (the top-level JSON numbers) leaves out ${r.settings.overall_excludes.join('/')}`,
  );
  for (const e of r.errors) out.push(`error: ${e.photo}: ${e.error}`);
  return out.join('\n');
}

/** Summaries of the look measures (look.ts) over a run: headline on the faces plain leaves undeformed. */
import { DETAIL_RATIO_GOAL, IRIS_CHROMA_GOAL, PICTURE_DETAIL_GOAL, STYLE_GAP_GOAL } from './look.js';
import type { PhotoResult } from './types.js';
import { mean, median } from './stats.js';

/** Plain must not deform a face (NME ≤ this) for its look to be the headline: a deformed plain face is no style reference. */
export const PLAIN_UNDEFORMED_NME = 0.05;
/** Face-size buckets by detector box width (working-image px): [label, from, below]. */
export const SIZE_BUCKETS: readonly [string, number, number][] = [
  ['<100', 0, 100],
  ['100-200', 100, 200],
  ['200-400', 200, 400],
  ['>=400', 400, Infinity],
];
const WORST_N = 5;

export interface LookStat {
  /** Faces with this measure defined. */
  faces: number;
  mean: number | null;
  median: number | null;
  /** Faces missing the goal. */
  failing: number;
}

export interface LookGroup {
  /** Faces with at least one look measure. */
  faces: number;
  style_gap: LookStat;
  detail_ratio: LookStat;
  iris_chroma_ratio: LookStat;
  /** Plain's iris chroma ÷ the input's, for context (held to the same goal). */
  plain_iris_chroma_ratio: LookStat;
}

export interface LookGroupBySize extends LookGroup {
  by_size: Record<string, LookGroup>;
}

export interface LookFace {
  photo: string;
  face: number;
  width: number;
  plain_nme: number | null;
  style_gap: number | null;
  detail_ratio: number | null;
  iris_chroma_ratio: number | null;
}

type Measure = 'style_gap' | 'detail_ratio' | 'iris_chroma_ratio';

export interface LookSummary {
  goals: { style_gap_max: number; detail_ratio_min: number; iris_chroma_ratio_min: number; picture_detail_ratio_min: number; plain_undeformed_nme: number };
  /** Photos of people, faces plain does not deform (plain NME ≤ 0.05): the headline. */
  plain_not_deformed: LookGroupBySize;
  /** Photos of people, every scored face. */
  all_scored: LookGroupBySize;
  per_category: Record<string, LookGroup>;
  /** Photos of people, every scored face missing each goal, worst first. */
  failing: Record<Measure, LookFace[]>;
  /** Photos of people, the worst faces by each measure (goal met or not). */
  worst: Record<Measure, LookFace[]>;
  /** Every photo: whole-picture fine-detail energy, ours / plain. */
  picture_detail_ratio: PictureDetail;
  /**
   * The same on the photos where plain deforms no scored face (plain NME ≤ plain_undeformed_nme on each): where
   * plain broke a face, part of its fine-detail energy is the break itself (cracks, a hard false jaw line),
   * which ours replaces on purpose, so only here does a lower ratio mean a softer picture.
   */
  picture_detail_ratio_plain_undeformed: PictureDetail;
  /** The same away from the faces (outside every face's landmark crop): whether ours changes the rest of the picture. */
  background_detail_ratio: { photos: number; mean: number | null; median: number | null; min: number | null };
  /** Photos where no face was detected on the input: mean |ours − plain| (0–255), should be ~0. */
  no_face_mean_abs_diff: { photos: number; mean: number | null; max: number | null };
}

export interface PictureDetail {
  photos: number;
  mean: number | null;
  median: number | null;
  min: number | null;
  below_goal: { photo: string; detail_ratio: number }[];
}

function pictureDetail(pictures: { photo: string; detail_ratio: number }[]): PictureDetail {
  const ratios = pictures.map((p) => p.detail_ratio);
  return {
    photos: pictures.length,
    mean: mean(ratios),
    median: median(ratios),
    min: ratios.length ? Math.min(...ratios) : null,
    below_goal: pictures.filter((p) => p.detail_ratio < PICTURE_DETAIL_GOAL).sort((a, b) => a.detail_ratio - b.detail_ratio),
  };
}

interface FaceRow extends LookFace {
  category: string;
  plain_iris: number | null;
}

const FAILS: Record<Measure, (v: number) => boolean> = {
  style_gap: (v) => v > STYLE_GAP_GOAL,
  detail_ratio: (v) => v < DETAIL_RATIO_GOAL,
  iris_chroma_ratio: (v) => v < IRIS_CHROMA_GOAL,
};
/** Sorts worst first. */
const WORSE: Record<Measure, (a: number, b: number) => number> = {
  style_gap: (a, b) => b - a,
  detail_ratio: (a, b) => a - b,
  iris_chroma_ratio: (a, b) => a - b,
};

function stat(values: (number | null)[], fails: (v: number) => boolean): LookStat {
  const v = values.filter((x): x is number => x !== null);
  return { faces: v.length, mean: mean(v), median: median(v), failing: v.filter(fails).length };
}

function group(rows: FaceRow[]): LookGroup {
  return {
    faces: rows.length,
    style_gap: stat(rows.map((r) => r.style_gap), FAILS.style_gap),
    detail_ratio: stat(rows.map((r) => r.detail_ratio), FAILS.detail_ratio),
    iris_chroma_ratio: stat(rows.map((r) => r.iris_chroma_ratio), FAILS.iris_chroma_ratio),
    plain_iris_chroma_ratio: stat(rows.map((r) => r.plain_iris), FAILS.iris_chroma_ratio),
  };
}

function groupBySize(rows: FaceRow[]): LookGroupBySize {
  const by_size = Object.fromEntries(SIZE_BUCKETS.map(([label, lo, hi]) => [label, group(rows.filter((r) => r.width >= lo && r.width < hi))]));
  return { ...group(rows), by_size };
}

/** Every face of `style` with a look measure, in photo order. */
function faceRows(photos: PhotoResult[], style: string): FaceRow[] {
  return photos.flatMap((p) =>
    p.styles
      .filter((s) => s.style === style && s.look)
      .flatMap((s) => {
        const look = s.look!;
        return (p.input?.faces ?? []).flatMap((f, face) => {
          const row: FaceRow = {
            photo: p.task.name,
            category: p.task.category,
            face,
            width: Math.round(f.box[2]),
            plain_nme: s.plain.nme[face] ?? null,
            style_gap: look.styleGap[face] ?? null,
            detail_ratio: look.detailRatio[face] ?? null,
            iris_chroma_ratio: look.irisChromaRatio[face] ?? null,
            plain_iris: look.plainIrisChromaRatio?.[face] ?? null,
          };
          return row.style_gap === null && row.detail_ratio === null && row.iris_chroma_ratio === null ? [] : [row];
        });
      }),
  );
}

function ranked(rows: FaceRow[], m: Measure): LookFace[] {
  return rows
    .filter((r) => r[m] !== null)
    .sort((a, b) => WORSE[m](a[m] as number, b[m] as number))
    .map(({ photo, face, width, plain_nme, style_gap, detail_ratio, iris_chroma_ratio }) => ({ photo, face, width, plain_nme, style_gap, detail_ratio, iris_chroma_ratio }));
}

/** `people`: the photos of people (faces); `all`: every photo (whole-picture measures). */
export function summariseLook(people: PhotoResult[], all: PhotoResult[], style: string): LookSummary {
  const rows = faceRows(people, style);
  const undeformed = rows.filter((r) => r.plain_nme !== null && r.plain_nme <= PLAIN_UNDEFORMED_NME);
  const categories = [...new Set(rows.map((r) => r.category))].sort();
  const measures: Measure[] = ['style_gap', 'detail_ratio', 'iris_chroma_ratio'];
  const looks = all.flatMap((p) => p.styles.filter((s) => s.style === style && s.look).map((s) => ({ photo: p, look: s.look! })));
  const pictures = looks.filter((l) => l.look.pictureDetailRatio !== null).map((l) => ({ photo: l.photo.task.name, detail_ratio: l.look.pictureDetailRatio as number }));
  const noFace = looks.filter((l) => l.photo.input && l.photo.input.faces.length === 0).map((l) => l.look.meanAbsDiff);
  const plainDeformed = new Set(rows.filter((r) => r.plain_nme !== null && r.plain_nme > PLAIN_UNDEFORMED_NME).map((r) => r.photo));
  const background = looks.map((l) => l.look.backgroundDetailRatio ?? null).filter((x): x is number => x !== null);
  return {
    goals: {
      style_gap_max: STYLE_GAP_GOAL,
      detail_ratio_min: DETAIL_RATIO_GOAL,
      iris_chroma_ratio_min: IRIS_CHROMA_GOAL,
      picture_detail_ratio_min: PICTURE_DETAIL_GOAL,
      plain_undeformed_nme: PLAIN_UNDEFORMED_NME,
    },
    plain_not_deformed: groupBySize(undeformed),
    all_scored: groupBySize(rows),
    per_category: Object.fromEntries(categories.map((c) => [c, group(rows.filter((r) => r.category === c))])),
    failing: Object.fromEntries(measures.map((m) => [m, ranked(rows, m).filter((f) => FAILS[m](f[m] as number))])) as Record<Measure, LookFace[]>,
    worst: Object.fromEntries(measures.map((m) => [m, ranked(rows, m).slice(0, WORST_N)])) as Record<Measure, LookFace[]>,
    picture_detail_ratio: pictureDetail(pictures),
    picture_detail_ratio_plain_undeformed: pictureDetail(pictures.filter((p) => !plainDeformed.has(p.photo))),
    background_detail_ratio: {
      photos: background.length,
      mean: mean(background),
      median: median(background),
      min: background.length ? Math.min(...background) : null,
    },
    no_face_mean_abs_diff: { photos: noFace.length, mean: mean(noFace), max: noFace.length ? Math.max(...noFace) : null },
  };
}

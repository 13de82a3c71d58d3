import { readFileSync } from 'node:fs';
import { runFfmpeg } from '../../src/pipeline/clip/ffmpeg.js';
import path from 'node:path';

export type SyntheticMotion = 'face-moves' | 'pan-zoom';

export interface SyntheticClip {
  motion?: SyntheticMotion;
  seconds?: number;
  fps?: number;
  width?: number;
  height?: number;
  /** A 440 Hz tone as AAC (MP4 only). */
  audio?: boolean;
  container?: 'mp4' | 'webm' | 'gif';
}

/** Read when a clip is made (the bench sets no FIXTURES_DIR: the shared folder beside the repository). */
function fixture(...parts: string[]): string {
  return path.join(process.env.FIXTURES_DIR ?? path.resolve(import.meta.dirname, '..', '..', '..', 'shared', 'fixtures', 'photos'), ...parts);
}

const BACKGROUND = ['no_face', 'insightface_view.jpg'];
const FACE = ['single_face', 'facerec_obama.jpg'];

/**
 * A test clip made in memory from fixture photos (nothing written anywhere): `face-moves` = a portrait
 * gliding over a still landscape (most pixels unchanged, one face moving); `pan-zoom` = a slow pan and zoom
 * over a portrait (every pixel moves a little).
 */
export async function makeClip(opts: SyntheticClip = {}): Promise<Buffer> {
  const { motion = 'face-moves', seconds = 2, fps = 25, width = 854, height = 480, audio = false, container = 'mp4' } = opts;
  const filter =
    motion === 'face-moves'
      ? `[0:v]loop=-1:1:0,scale=${width}:${height}:force_original_aspect_ratio=increase,crop=${width}:${height},setsar=1[bg];` +
        `[1:v]loop=-1:1:0,crop=iw*0.6:ih*0.4:iw*0.2:0,scale=-2:${Math.round(height * 0.6)}[fg];[bg][fg]overlay=x='${Math.round(width * 0.05)}+${Math.round(width * 0.08)}*t':y='${Math.round(height * 0.25)}+8*sin(2*t)'[mix]`
      : // The portrait cut to the frame's shape around the face first (zoompan itself would squeeze it).
        `[0:v]loop=-1:1:0,scale=${width * 2}:-2,crop=iw:iw*${height}/${width}:0:ih*0.03,setsar=1,` +
        `zoompan=z='1.15+0.004*on':x='iw/2-iw/zoom/2+on*1.5':y='ih/2-ih/zoom/2':d=1:s=${width}x${height}:fps=${fps}[mix]`;
  const encode =
    container === 'gif'
      ? ['-f', 'gif']
      : container === 'webm'
        ? ['-c:v', 'libvpx', '-b:v', '1M', '-deadline', 'realtime', '-cpu-used', '8', '-f', 'webm']
        : ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '20', '-pix_fmt', 'yuv420p', ...(audio ? ['-c:a', 'aac'] : []), '-movflags', '+frag_keyframe+empty_moov', '-f', 'mp4'];
  const inputs = motion === 'face-moves' ? ['-f', 'image2pipe', '-i', 'pipe:0', '-f', 'image2pipe', '-i', 'pipe:3'] : ['-f', 'image2pipe', '-i', 'pipe:3'];
  const tone = audio && container === 'mp4' ? ['-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}`] : [];
  const audioIndex = motion === 'face-moves' ? 2 : 1;
  const result = await runFfmpeg(
    [
      ...inputs, ...tone,
      '-filter_complex', `${filter};[mix]fps=${fps},format=yuv420p[v]`,
      '-map', '[v]', ...(tone.length ? ['-map', `${audioIndex}:a`] : []),
      '-t', String(seconds), ...encode, 'pipe:1',
    ],
    { input: motion === 'face-moves' ? readFileSync(fixture(...BACKGROUND)) : undefined, input3: readFileSync(fixture(...FACE)) },
  );
  if (result.code !== 0) throw new Error(`could not make the test clip: ${result.stderr.slice(-400)}`);
  return result.stdout;
}

import type { RgbImage } from '../image.js';
import { runFfmpeg } from './ffmpeg.js';
import { serveBuffer } from './serve.js';

/** Audio codecs an MP4 takes as they are (copied, never re-encoded); others (Vorbis, Opus from WebM) become AAC. */
const MP4_AUDIO = new Set(['aac', 'mp3']);

export interface ClipAudio {
  /** The original file (its first audio stream is taken). */
  file: Uint8Array;
  codec: string;
}

/**
 * H.264 (yuv420p) MP4 from raw frames, all through pipes. An MP4 written to a pipe cannot be rewritten
 * afterwards, so `+faststart` (moving the index to the front) is done by writing a fragmented MP4 whose
 * index (an empty moov) is at the front from the start: players start at once, as with faststart, and no
 * file is written anywhere.
 */
export async function encodeMp4(frames: readonly RgbImage[], fps: number, audio?: ClipAudio): Promise<Buffer> {
  if (!frames.length) throw new Error('encodeMp4: no frames');
  const { width, height } = frames[0];
  const raw = Buffer.concat(frames.map((f) => f.data));
  const served = audio ? await serveBuffer(audio.file) : undefined;
  try {
    const audioArgs = served && audio ? ['-i', served.url, '-map', '0:v', '-map', '1:a:0', ...(MP4_AUDIO.has(audio.codec) ? ['-c:a', 'copy'] : ['-c:a', 'aac', '-b:a', '96k']),
          // Not -shortest: with the encoder's frame delay it drops the video of a short clip (ffmpeg 4.1).
          '-t', (frames.length / fps).toFixed(3)] : ['-map', '0:v'];
    const result = await runFfmpeg(
      [
        '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(fps), '-i', 'pipe:0',
        ...audioArgs,
        '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '20', '-pix_fmt', 'yuv420p', '-profile:v', 'high',
        '-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4', 'pipe:1',
      ],
      { input: raw },
    );
    if (result.code !== 0 || !result.stdout.length) throw new Error(`ffmpeg could not encode the clip: ${result.stderr.trim().split('\n').slice(-2).join(' ')}`);
    return result.stdout;
  } finally {
    await served?.close();
  }
}

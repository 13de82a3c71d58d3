import { TelegramError } from 'telegraf';
import { describe, expect, it } from 'vitest';
import { ChatBudget } from '../src/bots/telegram/chat-budget.js';
import { parseCommand, type TgMessage } from '../src/bots/telegram/message.js';
import { findPicture } from '../src/bots/telegram/picture.js';
import { parseRestyleData, restyleData, restyleKeyboard } from '../src/bots/telegram/reply.js';
import { resultCaption } from '../src/bots/texts.js';
import { validateParams } from '../src/pipeline/params.js';
import type { FaceReport } from '../src/pipeline/face/report.js';
import { withRetryAfter } from '../src/bots/telegram/retry.js';
import { listStyles } from '../src/pipeline/styles.js';

const MB = 1024 * 1024;
const base: TgMessage = { message_id: 1, chat: { id: 5, type: 'private', first_name: 'A' } };
const size = (id: string, side: number, bytes?: number) => ({ file_id: id, file_unique_id: id, width: side, height: side, file_size: bytes });

describe('findPicture', () => {
  it('takes the largest photo size within the limit, in whatever order the sizes come', () => {
    const photo = [size('big', 2560, 21 * MB), size('small', 90, 2_000), size('mid', 1280, 300_000)];
    expect(findPicture({ ...base, photo }, 20 * MB)).toEqual({ ok: true, source: { fileId: 'mid', fileSize: 300_000, kind: 'photo' } });
    expect(findPicture({ ...base, photo: [size('nosize', 800)] }, 20 * MB)).toMatchObject({ ok: true, source: { fileId: 'nosize' } });
    expect(findPicture({ ...base, photo: [size('huge', 9000, 30 * MB)] }, 20 * MB)).toMatchObject({ ok: false, problem: 'too-large' });
  });

  it('checks documents by MIME type and declared size; GIFs, videos and moving stickers are refused', () => {
    const doc = (mime: string, bytes: number) => ({ file_id: 'd', file_unique_id: 'd', mime_type: mime, file_size: bytes });
    expect(findPicture({ ...base, document: doc('image/heic', 3 * MB) }, 20 * MB)).toMatchObject({ ok: true, source: { kind: 'document' } });
    expect(findPicture({ ...base, document: doc('application/zip', 1000) }, 20 * MB)).toMatchObject({ ok: false, problem: 'not-an-image' });
    expect(findPicture({ ...base, document: doc('image/png', 21 * MB) }, 20 * MB)).toMatchObject({ ok: false, problem: 'too-large' });
    // Telegram sends a GIF with both `animation` and `document`.
    const animation = { file_id: 'g', file_unique_id: 'g', width: 1, height: 1, duration: 1 };
    expect(findPicture({ ...base, animation, document: doc('video/mp4', 1000) }, 20 * MB)).toMatchObject({ ok: false, problem: 'moving' });
    const sticker = { file_id: 's', file_unique_id: 's', type: 'regular' as const, width: 512, height: 512, is_animated: false, is_video: true };
    expect(findPicture({ ...base, sticker }, 20 * MB)).toMatchObject({ ok: false, problem: 'moving' });
    expect(findPicture({ ...base, sticker: { ...sticker, is_video: false } }, 20 * MB)).toMatchObject({ ok: true, source: { kind: 'sticker' } });
    expect(findPicture({ ...base, text: 'hi' }, 20 * MB)).toMatchObject({ ok: false, problem: 'none' });
  });
});

describe('parseCommand', () => {
  // What Telegram marks in a text: a bot_command entity over the leading /command.
  const msg = (text: string | undefined) => {
    const command = text ? /^\/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?/.exec(text) : null;
    return { text, entities: command ? [{ type: 'bot_command' as const, offset: 0, length: command[0].length }] : [] };
  };

  it('reads the command at the start, for us or for no bot in particular', () => {
    expect(parseCommand(msg('/anime style:cute  smooth:0.2'), 'my_bot')).toEqual({ name: 'anime', args: 'style:cute  smooth:0.2' });
    expect(parseCommand(msg('/Anime@My_Bot cute'), 'my_bot')).toEqual({ name: 'anime', args: 'cute' });
    expect(parseCommand(msg('/anime@other_bot cute'), 'my_bot')).toBeUndefined();
    expect(parseCommand(msg('look /anime'), 'my_bot')).toBeUndefined();
    expect(parseCommand(msg(undefined), 'my_bot')).toBeUndefined();
  });

  it('goes by the entities, not the text: a caption command counts, an unmarked or later one does not', () => {
    const caption = '/anime@my_bot cute';
    expect(parseCommand({ caption, caption_entities: [{ type: 'bot_command', offset: 0, length: 13 }] }, 'my_bot')).toEqual({ name: 'anime', args: 'cute' });
    expect(parseCommand({ text: '/anime cute', entities: [{ type: 'code', offset: 0, length: 6 }] }, 'my_bot')).toBeUndefined();
    expect(parseCommand({ text: '/anime cute' }, 'my_bot')).toBeUndefined();
    expect(parseCommand({ text: 'hi /anime', entities: [{ type: 'bot_command', offset: 3, length: 6 }] }, 'my_bot')).toBeUndefined();
  });
});

describe('re-style buttons', () => {
  it('fit in 64 bytes of callback data, skip the current style and round-trip', () => {
    const keyboard = restyleKeyboard('AbCdEfGh', 'animeganv3_cute');
    const buttons = keyboard.inline_keyboard.flat();
    expect(buttons).toHaveLength(listStyles().length - 1);
    for (const b of buttons) {
      const data = 'callback_data' in b ? b.callback_data : '';
      expect(Buffer.byteLength(data)).toBeLessThanOrEqual(64);
      expect(parseRestyleData(data)?.style.id).not.toBe('animeganv3_cute');
    }
    expect(parseRestyleData(restyleData('k', 0))).toEqual({ key: 'k', style: listStyles()[0] });
    expect(parseRestyleData('rs:k:99')).toBeUndefined();
    expect(parseRestyleData('something else')).toBeUndefined();
  });
});

describe('result caption', () => {
  const face = (human: boolean, restored: boolean): FaceReport => ({ box: [0, 0, 9, 9], score: 0.9, keypoints: [], human, aligned: human, restored });
  const caption = (faces: FaceReport[], faceCare = true) =>
    resultCaption({ style: 'animeganv3_cute', faces }, validateParams({ style: 'animeganv3_cute', faces: faceCare }));

  it('counts faces painted on the face path and crowd faces restored, not animal faces', () => {
    expect(caption([face(true, false)])).toContain('1 face kept in shape');
    // a crowd photo whose faces are all too small for the face path still had them kept
    expect(caption([face(false, true), face(false, true), face(false, true)])).toContain('3 faces kept in shape');
    // an animal face: examined, not human, left to the plain style
    expect(caption([face(false, false)])).toContain('no faces found');
    expect(caption([face(true, false)], false)).toContain('face care off');
  });
});

describe('ChatBudget', () => {
  it('allows N optional messages per chat per minute, groups and private chats apart', () => {
    let now = 0;
    const budget = new ChatBudget({ group: 2, private: 3 }, () => now);
    expect([budget.tryTake(-1), budget.tryTake(-1), budget.tryTake(-1)]).toEqual([true, true, false]);
    expect([budget.tryTake(7), budget.tryTake(7), budget.tryTake(7), budget.tryTake(7)]).toEqual([true, true, true, false]);
    now = 30_000;
    expect(budget.waitMs(-1)).toBe(30_000);
    now = 60_001;
    expect(budget.waitMs(-1)).toBe(0);
    expect(budget.tryTake(-1)).toBe(true);
  });
});

describe('withRetryAfter', () => {
  const tooMany = (retryAfter: number) => new TelegramError({ error_code: 429, description: 'Too Many Requests', parameters: { retry_after: retryAfter } });

  it('retries a 429 after retry_after, a bounded number of times', async () => {
    let calls = 0;
    const waits: number[] = [];
    await expect(
      withRetryAfter(
        () => {
          calls++;
          return Promise.reject(tooMany(0));
        },
        { attempts: 3, maxWaitS: 10, onRetry: (s) => waits.push(s) },
      ),
    ).rejects.toBeInstanceOf(TelegramError);
    expect(calls).toBe(3);
    expect(waits).toEqual([0, 0]);
  });

  it('gives up at once on other errors or on waits longer than it accepts', async () => {
    let calls = 0;
    const fail = (e: Error) => () => {
      calls++;
      return Promise.reject(e);
    };
    await expect(withRetryAfter(fail(tooMany(3600)), { attempts: 5, maxWaitS: 60 })).rejects.toThrow();
    await expect(withRetryAfter(fail(new TelegramError({ error_code: 400, description: 'Bad Request' })), { attempts: 5, maxWaitS: 60 })).rejects.toThrow();
    expect(calls).toBe(2);
    let n = 0;
    expect(await withRetryAfter(() => (++n === 1 ? Promise.reject(tooMany(0)) : Promise.resolve('sent')), { attempts: 2, maxWaitS: 1 })).toBe('sent');
  });
});

import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/pipeline/errors.js';
import { DEFAULT_PARAMS } from '../../src/pipeline/params.js';
import { parseRequest } from '../../src/bots/request.js';
import { requestFromOptions } from '../../src/bots/discord/options.js';

describe('chat requests: the grammar plus as:, face: and me', () => {
  it('as:sticker and face:N ask for a sticker (face alone implies one); as:picture keeps a picture', () => {
    expect(parseRequest('as:sticker cute', DEFAULT_PARAMS)).toMatchObject({ sticker: {}, me: false, params: { style: 'animeganv3_cute' } });
    expect(parseRequest('face:2 smooth:0.3', DEFAULT_PARAMS)).toMatchObject({ sticker: { face: 2 }, params: { smooth: 0.3 } });
    expect(parseRequest('AS:Sticker face:1', DEFAULT_PARAMS).sticker).toEqual({ face: 1 });
    expect(parseRequest('as:picture face:2', DEFAULT_PARAMS).sticker).toBeUndefined();
    expect(parseRequest('style:hayao', DEFAULT_PARAMS).sticker).toBeUndefined();
  });

  it('`me` is a word only where the platform has it (Telegram), otherwise a stray word', () => {
    expect(parseRequest('me as:sticker', DEFAULT_PARAMS, true)).toMatchObject({ me: true, sticker: {} });
    expect(() => parseRequest('me', DEFAULT_PARAMS)).toThrow(/"me" is not a key:value pair/);
  });

  it('bad values are listed together with the grammar\'s own problems, in one message', () => {
    let error: unknown;
    try {
      parseRequest('as:gif face:0 smooth:7 shape:round', DEFAULT_PARAMS);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    const message = (error as InputError).message;
    expect(message).toMatch(/as must be picture or sticker \(got "gif"\)/);
    expect(message).toMatch(/face must be a number from 1 to 20/);
    expect(message).toMatch(/smooth must be between 0 and 1/);
    expect(message).toMatch(/unknown parameter "shape" \(known: .*as, face\)/);
  });

  it('Discord options reach the same grammar', () => {
    const request = requestFromOptions(
      [
        { name: 'image', value: '123' },
        { name: 'as', value: 'sticker' },
        { name: 'face', value: 3 },
        { name: 'style', value: 'animeganv3_shinkai' },
      ],
      DEFAULT_PARAMS,
    );
    expect(request).toMatchObject({ sticker: { face: 3 }, params: { style: 'animeganv3_shinkai' } });
  });
});

describe('chat requests: file:on travels with the sticker words', () => {
  it('file:on with as:sticker keeps both; unknown keys name every key the request knows', () => {
    expect(parseRequest('as:sticker file:on', DEFAULT_PARAMS)).toMatchObject({ sticker: {}, asFile: true });
    expect(() => parseRequest('colour:red', DEFAULT_PARAMS)).toThrow(/known: style, smooth, eyes, sharpen, align, faces, compare, file, as, face/);
  });
});

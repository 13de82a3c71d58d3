import { describe, expect, it } from 'vitest';
import { CHAT_PARAMS, describeRange } from '../../src/bots/grammar.js';
import { DISCORD_CONTENT_LIMIT, fitText, splitText, TELEGRAM_TEXT_LIMIT } from '../../src/bots/text-limits.js';
import { friendlyError, helpText, rejectionText } from '../../src/bots/texts.js';
import { InputError, ModelError } from '../../src/pipeline/errors.js';
import { validateParams } from '../../src/pipeline/params.js';
import { listStyles } from '../../src/pipeline/styles.js';

describe('texts', () => {
  it('help lists every setting with its range, every style with its alias, and the licence limits', () => {
    for (const platform of ['telegram', 'discord'] as const) {
      const help = helpText(platform);
      for (const { key } of CHAT_PARAMS) {
        expect(help).toContain(`  ${key}: `);
        if (key !== 'style') expect(help).toContain(describeRange(key));
      }
      for (const style of listStyles()) expect(help).toContain(style.aliases[0] ?? style.id);
      expect(help).toContain('NON-COMMERCIAL');
      expect(help).not.toMatch(/\*\*|__|```|<\/?(b|i|u|s|a|code|pre|strong|em)\b/); // plain text: no Markdown/HTML markup
    }
    expect(helpText('telegram')).toContain('reply /anime');
    expect(helpText('discord')).toContain('/anime image:');
  });

  it("help shows the defaults the bot really uses (the operator's DEFAULT_STYLE)", () => {
    const styleLine = (help: string) => help.split('\n').find((l) => l.startsWith('  style: '));
    expect(styleLine(helpText('telegram'))).toContain('default hayao-v3)');
    expect(styleLine(helpText('telegram', validateParams({ style: 'cute', smooth: 0.2 })))).toContain('default cute)');
    expect(helpText('discord', validateParams({ smooth: 0.2 }))).toMatch(/smooth: .*default 0\.2\)/);
  });

  it('help: one line per style with its alias and look, never a checkpoint title; it fits one Discord message', () => {
    for (const platform of ['telegram', 'discord'] as const) {
      const lines = helpText(platform).split('\n');
      for (const style of listStyles()) {
        expect(style.look.length).toBeGreaterThan(0);
        expect(lines.filter((l) => l.startsWith(`  ${style.aliases[0] ?? style.id} `) && l.endsWith(style.look))).toHaveLength(1);
      }
      expect(helpText(platform)).not.toMatch(/_3\d\b|tiny Cute|Cartoonization/);
    }
    expect(helpText('discord').length).toBeLessThanOrEqual(DISCORD_CONTENT_LIMIT);
  });

  it('friendly errors show user mistakes in full and hide our internals', () => {
    expect(friendlyError(new InputError('too-small', 'That picture is too small (min 16 px).'))).toBe('That picture is too small (min 16 px).');
    for (const e of [new ModelError('Model file missing: /srv/models/x.onnx'), new Error('ECONNRESET 10.0.0.1'), 'weird']) {
      const text = friendlyError(e);
      expect(text).toBe('Sorry, something went wrong on our side, please try again later.');
    }
    expect(rejectionText({ reason: 'busy', retryAfterS: 42 })).toBe("I'm busy right now, please try again in ~42 s.");
    expect(rejectionText({ reason: 'rate-limited-user', retryAfterS: 60 })).toMatch(/^You're sending pictures faster/);
  });
});

describe('text limits', () => {
  it('fitText keeps whole lines and says how many were left out; splitText keeps everything', () => {
    const lines = Array.from({ length: 500 }, (_, i) => `line ${i} ${'x'.repeat(20)}`).join('\n');
    const fitted = fitText(lines, TELEGRAM_TEXT_LIMIT);
    expect(fitted.length).toBeLessThanOrEqual(TELEGRAM_TEXT_LIMIT);
    expect(fitted).toMatch(/\n…and \d+ more lines$/);
    expect(fitText('y'.repeat(5000), 100)).toHaveLength(100);
    expect(fitText('short', 100)).toBe('short');
    const parts = splitText(lines, 2000);
    expect(parts.every((p) => p.length <= 2000)).toBe(true);
    expect(parts.join('\n')).toBe(lines);
  });
});

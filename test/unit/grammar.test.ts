import { describe, expect, it } from 'vitest';
import { parseChatRequest, parseCommandArgs } from '../../src/bots/grammar.js';
import { InputError } from '../../src/pipeline/errors.js';
import { validateParams } from '../../src/pipeline/params.js';

function problemsOf(args: string): string {
  try {
    parseCommandArgs(args);
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as Error).message;
  }
  throw new Error(`"${args}" was accepted`);
}

describe('command grammar', () => {
  it('refuses hex, binary, octal and exponent numbers (smooth:0x1 is not 1)', () => {
    for (const v of ['0x1', '0b1', '0o1', '1e0', '0x0', ' ', 'Infinity', '1_0']) expect(problemsOf(`smooth:${v}`)).toMatch(/smooth must be a number from 0 to 1/);
    expect(parseCommandArgs('smooth:.5 eyes:+1.5 sharpen:0.').smooth).toBe(0.5);
  });

  it('prototype names are unknown parameters, named as typed', () => {
    for (const key of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      const message = problemsOf(`${key}:1`);
      expect(message).toContain(`unknown parameter "${key.toLowerCase()}"`);
      expect(message).not.toMatch(/native code|function/);
    }
    expect(() => validateParams({ constructor: 1 } as never)).toThrow(/Unknown parameter "constructor"/);
    // Nothing leaked onto Object.prototype.
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('a bad value is reported under the key the user typed, never the internal setting name', () => {
    expect(problemsOf('align:5')).toContain('align must be between 0 and 1 (got 5)');
    expect(problemsOf('align:x eyes:3')).not.toContain('alignThreshold');
  });

  it('file:on|off is how the answer is sent, not a painting setting; bad values are explained like the others', () => {
    expect(parseChatRequest('cute file:on')).toEqual({ params: parseCommandArgs('cute'), asFile: true });
    expect(parseChatRequest('cute').asFile).toBe(false);
    expect(problemsOf('file:maybe')).toContain('file must be on or off (got "maybe")');
  });

  it('a key given twice with different values is refused, not silently the last one', () => {
    expect(problemsOf('smooth:0.2 smooth:0.9')).toContain('smooth is given twice ("0.2" and "0.9"): keep one');
    expect(problemsOf('cute style:shinkai')).toContain('style is given twice ("cute" and "shinkai")');
    expect(parseCommandArgs('smooth:0.4 smooth:0.4').smooth).toBe(0.4);
  });

  it('an error names at most five distinct problems, then how many more', () => {
    const many = Array.from({ length: 30 }, (_, i) => `bad${String.fromCharCode(97 + (i % 26))}${i}:1`).join(' ');
    const message = problemsOf(many);
    expect(message.split('\n• ')).toHaveLength(6);
    expect(message).toMatch(/\n…and 25 more problems$/);
    expect(problemsOf(Array(48).fill('a:1').join(' ')).split('\n')).toHaveLength(2);
    expect(problemsOf('q'.repeat(10_000)).length).toBeLessThan(200);
  });
});

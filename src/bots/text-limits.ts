/** Longest texts each platform accepts (Telegram counts UTF-16 code units, as JavaScript does). */
export const TELEGRAM_TEXT_LIMIT = 4096;
export const TELEGRAM_CAPTION_LIMIT = 1024;
export const DISCORD_CONTENT_LIMIT = 2000;

/**
 * Cuts `text` to at most `max` characters at a line break, ending with "…and N more lines" so nothing is
 * silently missing; a single line too long for that is cut mid-line with "…".
 */
export function fitText(text: string, max: number): string {
  if (text.length <= max) return text;
  const lines = text.split('\n');
  const kept: string[] = [];
  let length = 0;
  for (let i = 0; i < lines.length; i++) {
    const more = `…and ${lines.length - i} more line${lines.length - i === 1 ? '' : 's'}`;
    const next = length + (kept.length ? 1 : 0) + lines[i].length;
    // Room must stay for the note about what was left out.
    if (next + 1 + more.length > max) {
      if (!kept.length) return `${text.slice(0, max - 1)}…`;
      return `${kept.join('\n')}\n${more}`;
    }
    kept.push(lines[i]);
    length = next;
  }
  return kept.join('\n');
}

/** Splits `text` into parts of at most `max` characters, at line breaks where possible. */
export function splitText(text: string, max: number): string[] {
  const parts: string[] = [];
  let rest = text;
  while (rest.length > max) {
    const cut = rest.lastIndexOf('\n', max);
    const at = cut > 0 ? cut : max;
    parts.push(rest.slice(0, at));
    rest = rest.slice(at).replace(/^\n/, '');
  }
  parts.push(rest);
  return parts;
}

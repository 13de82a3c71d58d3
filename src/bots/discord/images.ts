import type { Attachment, Message } from 'discord.js';
import { looksLikeImage, type ImageRef } from './download.js';

export function attachmentRef(a: Attachment): ImageRef {
  return { url: a.url, name: a.name, size: a.size, contentType: a.contentType };
}

function fileName(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '') || 'image';
  } catch {
    return 'image';
  }
}

/**
 * The first picture of a message for the context-menu command: image attachments first, then image embeds
 * (an embed's `image`, or the thumbnail of an `image`-type embed, which is how Discord shows a posted image link).
 * Size limits are checked later, so an oversized picture gets a clear "too large" answer rather than "no picture".
 */
export function firstImageOfMessage(message: Message): ImageRef | undefined {
  const attachment = message.attachments.find((a) => looksLikeImage(attachmentRef(a)));
  if (attachment) return attachmentRef(attachment);
  for (const embed of message.embeds) {
    const picture = embed.image ?? (embed.data.type === 'image' ? embed.thumbnail : null);
    // Prefer Discord's media proxy: the plain URL of a posted link points at any host, and fetching it from
    // the bot's network would let a link reach addresses only the bot can see.
    const url = picture?.proxyURL ?? picture?.url;
    // Discord only puts pictures in these fields; the bytes are verified by the decoder anyway.
    if (url) return { url, name: fileName(picture?.url ?? url), contentType: 'image/*' };
  }
  return undefined;
}

import type { Animation, Chat, Document, PhotoSize, Sticker, User, Video } from 'telegraf/types';

/**
 * The fields of an incoming Telegram message this adapter reads. telegraf types messages as a wide union
 * that is awkward to narrow field by field; this flat view is what the handlers work with.
 */
export interface TgMessage {
  message_id: number;
  chat: Chat;
  from?: User;
  text?: string;
  caption?: string;
  media_group_id?: string;
  photo?: PhotoSize[];
  document?: Document;
  sticker?: Sticker;
  animation?: Animation;
  video?: Video;
  video_note?: { file_id: string };
  reply_to_message?: TgMessage;
}

export function isPrivate(message: TgMessage): boolean {
  return message.chat.type === 'private';
}

/** The command at the start of a text or caption, if it is addressed to us (or to no bot in particular). */
export interface ParsedCommand {
  name: string;
  args: string;
}

export function parseCommand(text: string | undefined, botUsername: string | undefined): ParsedCommand | undefined {
  const m = /^\/([A-Za-z0-9_]+)(?:@([A-Za-z0-9_]+))?(?:\s+([\s\S]*))?$/.exec(text?.trim() ?? '');
  if (!m) return undefined;
  if (m[2] && botUsername && m[2].toLowerCase() !== botUsername.toLowerCase()) return undefined;
  return { name: m[1].toLowerCase(), args: (m[3] ?? '').trim() };
}

import type { Animation, Chat, Document, MessageEntity, PhotoSize, Sticker, User, Video } from 'telegraf/types';

/**
 * The fields of an incoming Telegram message this adapter reads. telegraf types messages as a wide union
 * that is awkward to narrow field by field; this flat view is what the handlers work with.
 */
export interface TgMessage {
  message_id: number;
  chat: Chat;
  from?: User;
  text?: string;
  entities?: MessageEntity[];
  caption?: string;
  caption_entities?: MessageEntity[];
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

/**
 * Reads the command the way Telegram marks it (as telegraf and grammY do): a `bot_command` entity at offset 0
 * of the text or caption; `/cmd@name` only when `name` is this bot's username.
 */
export function parseCommand(message: Pick<TgMessage, 'text' | 'entities' | 'caption' | 'caption_entities'>, botUsername: string | undefined): ParsedCommand | undefined {
  const text = message.text ?? message.caption ?? '';
  const entities = (message.text !== undefined ? message.entities : message.caption_entities) ?? [];
  const command = entities.find((e) => e.type === 'bot_command' && e.offset === 0);
  if (!command) return undefined;
  const [name, addressee] = text.slice(1, command.length).split('@');
  if (addressee && botUsername && addressee.toLowerCase() !== botUsername.toLowerCase()) return undefined;
  return { name: name.toLowerCase(), args: text.slice(command.length).trim() };
}

import type { Telegram } from 'telegraf';
import type { User } from 'telegraf/types';
import { InputError } from '../../pipeline/errors.js';
import { noAvatarText, type AvatarOwner } from '../texts.js';
import type { TgMessage } from './message.js';
import { findPicture, type PictureSource } from './picture.js';

/** Whose profile photo to paint. */
export interface AvatarTarget {
  userId: number;
  owner: AvatarOwner;
}

export function avatarTarget(user: User, sender: User | undefined): AvatarTarget {
  const self = user.id === sender?.id;
  const name = user.username ? `@${user.username}` : [user.first_name, user.last_name].filter(Boolean).join(' ');
  return { userId: user.id, owner: self ? { self: true } : { self: false, name } };
}

/**
 * The current profile photo of a user, its largest size within `limitBytes` (getUserProfilePhotos lists the
 * newest photo first, each as several sizes). Undefined when there is none, or the user's privacy settings
 * hide it: the Bot API answers both with an empty list.
 */
export async function findAvatar(telegram: Telegram, userId: number, limitBytes: number): Promise<PictureSource | undefined> {
  const { photos } = await telegram.getUserProfilePhotos(userId, 0, 1);
  const sizes = photos[0];
  if (!sizes?.length) return undefined;
  const lookup = findPicture({ photo: sizes } as TgMessage, limitBytes);
  return lookup.ok ? lookup.source : undefined;
}

/** The avatar's source, or an InputError whose text says there is none to see. */
export async function requireAvatar(telegram: Telegram, target: AvatarTarget, limitBytes: number): Promise<PictureSource> {
  const source = await findAvatar(telegram, target.userId, limitBytes);
  if (!source) throw new InputError('no-avatar', noAvatarText(target.owner, 'telegram'));
  return source;
}

import { GuildMember, type User } from 'discord.js';
import { InputError } from '../../pipeline/errors.js';
import { noAvatarText, type AvatarOwner } from '../texts.js';
import type { ImageRef } from './download.js';

/** Discord's largest avatar size; PNG so an animated avatar is painted from its first frame like any picture. */
const AVATAR_OPTIONS = { extension: 'png', size: 4096, forceStatic: true } as const;

/** A cached member, or the raw member fields an interaction carries (the guild may not be cached). */
type Member = GuildMember | { avatar?: string | null; nick?: string | null } | null | undefined;

/**
 * The avatar people see for this member: the one set for this server, else their global one, at the largest
 * size. Undefined for a user who never set one (Discord then shows a generated default, not a photo).
 */
export function avatarRef(user: User, member: Member, guildId: string | null): ImageRef | undefined {
  const serverHash = member instanceof GuildMember ? member.avatar : member?.avatar;
  const url =
    serverHash && guildId
      ? user.client.rest.cdn.guildMemberAvatar(guildId, user.id, serverHash, AVATAR_OPTIONS)
      : user.avatarURL(AVATAR_OPTIONS);
  return url ? { url, name: `avatar-${user.id}.png`, contentType: 'image/png' } : undefined;
}

function ownerOf(user: User, member: Member, askedBy: User): AvatarOwner {
  if (user.id === askedBy.id) return { self: true };
  const nick = member instanceof GuildMember ? member.displayName : (member?.nick ?? user.globalName ?? user.username);
  return { self: false, name: nick };
}

/** The avatar to paint, or an InputError saying whose avatar is missing. */
export function requireAvatarRef(user: User, member: Member, guildId: string | null, askedBy: User): ImageRef {
  const ref = avatarRef(user, member, guildId);
  if (!ref) throw new InputError('no-avatar', noAvatarText(ownerOf(user, member, askedBy), 'discord'));
  return ref;
}

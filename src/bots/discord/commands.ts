import {
  ApplicationCommandType,
  ContextMenuCommandBuilder,
  SlashCommandBuilder,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
  type RESTPutAPIApplicationCommandsJSONBody,
} from 'discord.js';
import { CHAT_PARAMS, FILE_HELP, FILE_KEY } from '../grammar.js';
import { MAX_FACE_NUMBER, OUTPUT_KINDS } from '../request.js';
import { listStyles } from '../../pipeline/styles.js';
import { styleSummary } from '../texts.js';

export const ANIME_COMMAND = 'anime';
export const HELP_COMMAND = 'help';
export const STYLES_COMMAND = 'styles';
export const CONTEXT_MENU_COMMAND = 'Anime-fy';
/** The user context-menu entry (right-click a member → Apps): paints their avatar. */
export const AVATAR_MENU_COMMAND = 'Anime-fy avatar';
export const IMAGE_OPTION = 'image';
export const USER_OPTION = 'user';
export const AS_OPTION = 'as';
export const FACE_OPTION = 'face';

/** Discord allows at most 25 fixed choices; beyond that the style option switches to autocomplete. */
const MAX_CHOICES = 25;

export function styleUsesAutocomplete(): boolean {
  return listStyles().length > MAX_CHOICES;
}

export function styleLabel(style: { id: string; title: string; aliases: string[] }): string {
  return style.aliases[0] ?? style.id;
}

/**
 * `/anime`: the image (or a member, whose avatar is painted), one option per shared grammar key with the same
 * names and ranges, and `as`/`face` for stickers.
 */
function animeCommand(): RESTPostAPIChatInputApplicationCommandsJSONBody {
  const cmd = new SlashCommandBuilder()
    .setName(ANIME_COMMAND)
    .setDescription('Turn a photo into an anime-style picture (faces stay undeformed)')
    .addAttachmentOption((o) => o.setName(IMAGE_OPTION).setDescription('The photo to stylise'))
    .addUserOption((o) => o.setName(USER_OPTION).setDescription("Paint this member's avatar instead of a photo"))
    .addStringOption((o) => o.setName(AS_OPTION).setDescription('picture, or sticker: the people cut out on a transparent background').addChoices(...OUTPUT_KINDS.map((k) => ({ name: k, value: k }))))
    .addIntegerOption((o) => o.setName(FACE_OPTION).setDescription('Sticker of one person only: their face number, counted from the left').setMinValue(1).setMaxValue(MAX_FACE_NUMBER));
  for (const { key, spec } of CHAT_PARAMS) {
    const description = spec.help.slice(0, 100);
    if (spec.kind === 'style') {
      cmd.addStringOption((o) => {
        o.setName(key).setDescription(description);
        if (styleUsesAutocomplete()) return o.setAutocomplete(true);
        return o.addChoices(...listStyles().map((s) => ({ name: `${styleLabel(s)} – ${styleSummary(s)}`.slice(0, 100), value: s.id })));
      });
    } else if (spec.kind === 'number') {
      cmd.addNumberOption((o) => o.setName(key).setDescription(`${description} (${spec.min}–${spec.max})`).setMinValue(spec.min).setMaxValue(spec.max));
    } else {
      cmd.addBooleanOption((o) => o.setName(key).setDescription(description));
    }
  }
  cmd.addBooleanOption((o) => o.setName(FILE_KEY).setDescription(FILE_HELP.slice(0, 100)));
  return cmd.toJSON();
}

/** Everything registered at start-up: /anime, /help, /styles, the message and the user context-menu entries. */
export function commandDefinitions(): RESTPutAPIApplicationCommandsJSONBody {
  return [
    animeCommand(),
    new SlashCommandBuilder().setName(HELP_COMMAND).setDescription('How to use the anime bot').toJSON(),
    new SlashCommandBuilder().setName(STYLES_COMMAND).setDescription('Every style on your avatar, in one picture').toJSON(),
    new ContextMenuCommandBuilder().setName(CONTEXT_MENU_COMMAND).setType(ApplicationCommandType.Message).toJSON(),
    new ContextMenuCommandBuilder().setName(AVATAR_MENU_COMMAND).setType(ApplicationCommandType.User).toJSON(),
  ];
}

import {
  ApplicationCommandType,
  ContextMenuCommandBuilder,
  SlashCommandBuilder,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
  type RESTPutAPIApplicationCommandsJSONBody,
} from 'discord.js';
import { CHAT_PARAMS, FILE_HELP, FILE_KEY } from '../grammar.js';
import { listStyles } from '../../pipeline/styles.js';

export const ANIME_COMMAND = 'anime';
export const HELP_COMMAND = 'help';
export const STYLES_COMMAND = 'styles';
export const CONTEXT_MENU_COMMAND = 'Anime-fy';
export const IMAGE_OPTION = 'image';

/** Discord allows at most 25 fixed choices; beyond that the style option switches to autocomplete. */
const MAX_CHOICES = 25;

export function styleUsesAutocomplete(): boolean {
  return listStyles().length > MAX_CHOICES;
}

export function styleLabel(style: { id: string; title: string; aliases: string[] }): string {
  return style.aliases[0] ?? style.id;
}

/** `/anime`: the image plus one option per shared grammar key, with the same names and ranges. */
function animeCommand(): RESTPostAPIChatInputApplicationCommandsJSONBody {
  const cmd = new SlashCommandBuilder()
    .setName(ANIME_COMMAND)
    .setDescription('Turn a photo into an anime-style picture (faces stay undeformed)')
    .addAttachmentOption((o) => o.setName(IMAGE_OPTION).setDescription('The photo to stylise').setRequired(true));
  for (const { key, spec } of CHAT_PARAMS) {
    const description = spec.help.slice(0, 100);
    if (spec.kind === 'style') {
      cmd.addStringOption((o) => {
        o.setName(key).setDescription(description);
        if (styleUsesAutocomplete()) return o.setAutocomplete(true);
        return o.addChoices(...listStyles().map((s) => ({ name: `${styleLabel(s)} – ${s.title}`.slice(0, 100), value: s.id })));
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

/** Everything registered at start-up: /anime, /help, /styles and the message context-menu entry. */
export function commandDefinitions(): RESTPutAPIApplicationCommandsJSONBody {
  return [
    animeCommand(),
    new SlashCommandBuilder().setName(HELP_COMMAND).setDescription('How to use the anime bot').toJSON(),
    new SlashCommandBuilder().setName(STYLES_COMMAND).setDescription('List the available styles').toJSON(),
    new ContextMenuCommandBuilder().setName(CONTEXT_MENU_COMMAND).setType(ApplicationCommandType.Message).toJSON(),
  ];
}

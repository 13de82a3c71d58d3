import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/**
 * A local fake of the parts of Discord the bot touches, speaking the real protocols so the real discord.js
 * client runs against it unchanged: REST (`/api/v10/...`), the gateway WebSocket (JSON, no compression) and a
 * CDN serving attachment bytes and avatars (global and per-server, `setAvatar`) from memory, at the paths
 * discord.js builds when its `rest.cdn` is `${origin}/cdn`. Every REST/CDN request is recorded in `calls`.
 * Interaction tokens expire after `tokenLifetimeMs` (401 Invalid Webhook Token, as Discord answers after 15
 * minutes); messages the bot posts in a channel are kept in `channelMessages`.
 */

export interface RecordedFile {
  field: string;
  name: string;
  contentType: string;
  bytes: Buffer;
}

export interface RecordedCall {
  method: string;
  /** Path without the `/api/v10` prefix (CDN paths start with `/cdn/`). */
  path: string;
  query: Record<string, string>;
  auth: string | undefined;
  json: any;
  files: RecordedFile[];
  status: number;
}

export interface FakeMessage {
  id: string;
  content: string;
  flags: number;
  attachments: RecordedFile[];
  components: any[];
  /** Every content the message had, oldest first (status lines, then the result). */
  history: string[];
  deleted: boolean;
  /** Index in `calls` of the request that attached files (to compare which reply got its picture first). */
  filesAtCall?: number;
}

/** What one interaction (by token) looks like to the user who triggered it. */
export interface InteractionView {
  id: string;
  token: string;
  createdAt: number;
  /** Callback type: 4 reply, 5 deferred ("thinking…"), 8 autocomplete result. */
  callbackType?: number;
  callbackFlags: number;
  autocompleteChoices?: { name: string; value: string }[];
  original?: FakeMessage;
  followUps: FakeMessage[];
}

export interface RateLimitRule {
  method: string;
  path: RegExp;
  retryAfterS: number;
  remaining: number;
}

/** A server-side fault: an error status (with Discord's JSON error body) or a connection dropped without an answer. */
export interface FaultRule {
  method: string;
  path: RegExp;
  fault: { status: number; code?: number } | 'reset';
  remaining: number;
  /** Only requests that upload files (a result), not the status edits on the same route. */
  withFiles?: boolean;
}

export interface FakeUser {
  id: string;
  username: string;
}

/** Where and how an interaction happens (default: the guild's #general, 10 MB upload limit). */
export interface InteractionPlace {
  /** A direct message with the bot instead of the guild channel. */
  dm?: boolean;
  /** `attachment_size_limit` Discord reports for this interaction. */
  uploadLimit?: number;
}

export interface FakeAttachment {
  id: string;
  filename: string;
  size: number;
  url: string;
  proxy_url: string;
  content_type?: string;
  width?: number;
  height?: number;
}

const DISCORD_EPOCH = 1420070400000n;
const EPHEMERAL = 1 << 6;

export class FakeDiscord {
  readonly applicationId: string;
  readonly guildId: string;
  readonly channelId: string;
  readonly calls: RecordedCall[] = [];
  readonly registeredCommands = new Map<string, any[]>();
  /** Messages the bot posted in channels (not through an interaction), with the mentions it allowed. */
  readonly channelMessages: (FakeMessage & { channelId: string; allowedMentions: any })[] = [];
  /** How long an interaction token can be used for replies (Discord: 15 minutes); tests shorten it. */
  tokenLifetimeMs = 15 * 60_000;
  readonly gatewayLog: { dir: 'in' | 'out'; op: number; t?: string }[] = [];
  private readonly interactions = new Map<string, InteractionView>();
  private readonly cdn = new Map<string, { bytes: Buffer; contentType: string }>();
  /** Avatar hashes per user id: `user` is the global avatar, `member` the one set for this server. */
  private readonly avatars = new Map<string, { user?: string; member?: string }>();
  private readonly rateLimits: RateLimitRule[] = [];
  private readonly exhausted: RateLimitRule[] = [];
  private readonly delays: RateLimitRule[] = [];
  private readonly faults: FaultRule[] = [];
  private readonly events = new EventEmitter();
  private server!: Server;
  private wss!: WebSocketServer;
  private socket: WebSocket | undefined;
  private seq = 0;
  private counter = 0n;
  readonly botUser: any;

  constructor(readonly token = 'fake-bot-token') {
    this.applicationId = this.snowflake();
    this.guildId = this.snowflake();
    this.channelId = this.snowflake();
    this.botUser = { id: this.applicationId, username: 'animebot', discriminator: '0', global_name: 'Anime Bot', avatar: null, bot: true };
    this.events.setMaxListeners(100);
  }

  snowflake(): string {
    this.counter += 1n;
    return (((BigInt(Date.now()) - DISCORD_EPOCH) << 22n) | (this.counter & 0x3fffffn)).toString();
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.wss = new WebSocketServer({ server: this.server, path: '/gateway' });
    this.wss.on('connection', (ws, req) => this.onGatewayConnection(ws, req));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  get origin(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Value for `new Client({ rest: { api } })` / DISCORD_API_BASE. */
  get apiBase(): string {
    return `${this.origin}/api`;
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---------- CDN ----------

  /** Serves `bytes` from the fake CDN and returns the attachment object Discord would put in a payload. */
  addAttachment(filename: string, bytes: Buffer, contentType: string | undefined, extra: Partial<FakeAttachment> = {}): FakeAttachment {
    const id = this.snowflake();
    const path = `/cdn/attachments/${this.channelId}/${id}/${filename}`;
    this.cdn.set(path, { bytes, contentType: contentType ?? 'application/octet-stream' });
    const url = `${this.origin}/cdn/attachments/${this.channelId}/${id}/${encodeURIComponent(filename)}`;
    return { id, filename, size: bytes.length, url, proxy_url: url, ...(contentType ? { content_type: contentType } : {}), ...extra };
  }

  /**
   * Gives `user` an avatar (PNG bytes served from the CDN): their global one, or with `server` the one they set
   * for this server only. Users without one have `avatar: null`, as on Discord (which then shows a default).
   */
  setAvatar(user: FakeUser, bytes: Buffer, opts: { server?: boolean } = {}): string {
    const hash = (this.snowflake() + this.snowflake()).slice(0, 32);
    const path = opts.server ? `/cdn/guilds/${this.guildId}/users/${user.id}/avatars/${hash}.png` : `/cdn/avatars/${user.id}/${hash}.png`;
    this.cdn.set(path, { bytes, contentType: 'image/png' });
    this.avatars.set(user.id, { ...this.avatars.get(user.id), [opts.server ? 'member' : 'user']: hash });
    return path;
  }

  cdnHits(attachment: { url: string }): number {
    const path = decodeURIComponent(new URL(attachment.url).pathname);
    return this.calls.filter((c) => c.path === path).length;
  }

  // ---------- rate limits ----------

  /** The next `times` requests matching method + path get a 429 with `retry-after` (header and JSON body). */
  rateLimit(method: string, path: RegExp, retryAfterS: number, times = 1): void {
    this.rateLimits.push({ method, path, retryAfterS, remaining: times });
  }

  /**
   * The next `times` successful answers to method + path say the route's bucket is used up for `resetAfterS`
   * (`x-ratelimit-remaining: 0`), as Discord does, so the client plans a wait before its next request there.
   */
  exhaustBucket(method: string, path: RegExp, resetAfterS: number, times = 1): void {
    this.exhausted.push({ method, path, retryAfterS: resetAfterS, remaining: times });
  }

  // ---------- fault injection ----------

  /** The next `times` requests matching method + path fail with `status` (5xx: Discord's "internal error" body). */
  failNext(method: string, path: RegExp, status: number, times = 1, opts: { code?: number; withFiles?: boolean } = {}): void {
    this.faults.push({ method, path, fault: { status, code: opts.code }, remaining: times, withFiles: opts.withFiles });
  }

  /** The next `times` requests matching method + path are answered only after `delayMs` (a slow CDN, say). */
  slowNext(method: string, path: RegExp, delayMs: number, times = 1): void {
    this.delays.push({ method, path, retryAfterS: delayMs / 1000, remaining: times });
  }

  /** The next `times` requests matching method + path have their connection reset before any answer. */
  resetNext(method: string, path: RegExp, times = 1, opts: { withFiles?: boolean } = {}): void {
    this.faults.push({ method, path, fault: 'reset', remaining: times, withFiles: opts.withFiles });
  }

  // ---------- gateway ----------

  private sendGateway(payload: { op: number; d: unknown; s?: number | null; t?: string | null }): void {
    this.gatewayLog.push({ dir: 'out', op: payload.op, t: payload.t ?? undefined });
    this.socket?.send(JSON.stringify({ s: null, t: null, ...payload }));
  }

  private dispatch(t: string, d: unknown): void {
    this.seq += 1;
    this.sendGateway({ op: 0, t, s: this.seq, d });
  }

  private onGatewayConnection(ws: WebSocket, req: IncomingMessage): void {
    const params = new URL(req.url ?? '/', this.origin).searchParams;
    if (params.get('encoding') !== 'json' || params.has('compress')) {
      ws.close(4002, 'fake gateway only speaks uncompressed JSON');
      return;
    }
    this.socket = ws;
    this.sendGateway({ op: 10, d: { heartbeat_interval: 1500 } });
    ws.on('message', (raw) => {
      const msg = JSON.parse(String(raw)) as { op: number; d: any };
      this.gatewayLog.push({ dir: 'in', op: msg.op });
      if (msg.op === 1) this.sendGateway({ op: 11, d: null });
      else if (msg.op === 2) this.onIdentify(ws, msg.d);
    });
  }

  private onIdentify(ws: WebSocket, d: { token: string; intents: number }): void {
    if (d.token !== this.token) {
      ws.close(4004, 'Authentication failed.');
      return;
    }
    this.dispatch('READY', {
      v: 10,
      user: this.botUser,
      guilds: [{ id: this.guildId, unavailable: true }],
      session_id: 'fake-session',
      resume_gateway_url: `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}/gateway`,
      shard: [0, 1],
      application: { id: this.applicationId, flags: 0 },
    });
    this.dispatch('GUILD_CREATE', this.guildPayload());
    this.events.emit('identified');
  }

  private guildPayload(): any {
    return {
      id: this.guildId,
      name: 'Fake Guild',
      icon: null,
      owner_id: '1',
      afk_channel_id: null,
      afk_timeout: 300,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      roles: [{ id: this.guildId, name: '@everyone', color: 0, hoist: false, position: 0, permissions: '1071698660929', managed: false, mentionable: false, flags: 0 }],
      emojis: [],
      stickers: [],
      features: [],
      mfa_level: 0,
      system_channel_flags: 0,
      premium_tier: 0,
      preferred_locale: 'en-US',
      nsfw_level: 0,
      joined_at: new Date().toISOString(),
      large: false,
      unavailable: false,
      member_count: 3,
      members: [],
      channels: [{ id: this.channelId, type: 0, guild_id: this.guildId, name: 'general', position: 0, permission_overwrites: [], nsfw: false, parent_id: null }],
      threads: [],
      presences: [],
      voice_states: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
    };
  }

  /** Resolves with the close code when the bot's gateway connection closes. */
  gatewayClosed(): Promise<number> {
    const ws = this.socket;
    if (!ws) return Promise.reject(new Error('no gateway connection'));
    return new Promise((resolve) => ws.once('close', (code: number) => resolve(code)));
  }

  /** Resolves once the bot has identified on the gateway. */
  identified(): Promise<void> {
    return new Promise((resolve) => this.events.once('identified', resolve));
  }

  // ---------- interactions ----------

  private userObject(user: FakeUser): any {
    return { id: user.id, username: user.username, discriminator: '0', global_name: user.username, avatar: this.avatars.get(user.id)?.user ?? null };
  }

  private member(user: FakeUser): any {
    return {
      user: this.userObject(user),
      avatar: this.avatars.get(user.id)?.member ?? null,
      roles: [],
      joined_at: new Date().toISOString(),
      deaf: false,
      mute: false,
      flags: 0,
      permissions: '1071698660929',
    };
  }

  message(author: FakeUser, fields: { content?: string; attachments?: FakeAttachment[]; embeds?: any[]; components?: any[] } = {}): any {
    return {
      id: this.snowflake(),
      channel_id: this.channelId,
      guild_id: this.guildId,
      author: this.userObject(author),
      content: fields.content ?? '',
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: fields.attachments ?? [],
      embeds: fields.embeds ?? [],
      components: fields.components ?? [],
      pinned: false,
      type: 0,
      flags: 0,
    };
  }

  private interactionBase(type: number, user: FakeUser, place: InteractionPlace = {}): any {
    const id = this.snowflake();
    const token = `itoken-${id}`;
    this.interactions.set(token, { id, token, createdAt: Date.now(), callbackFlags: 0, followUps: [] });
    const common = {
      id,
      application_id: this.applicationId,
      type,
      token,
      version: 1,
      app_permissions: '1071698660929',
      locale: 'en-US',
      entitlements: [],
      attachment_size_limit: place.uploadLimit ?? 10 * 1024 * 1024,
    };
    if (place.dm) {
      const dmChannel = `9${user.id.slice(1)}`;
      return {
        ...common,
        channel_id: dmChannel,
        channel: { id: dmChannel, type: 1, recipients: [this.member(user).user] },
        user: this.member(user).user,
        authorizing_integration_owners: { '1': user.id },
        context: 1,
      };
    }
    return {
      ...common,
      guild_id: this.guildId,
      channel_id: this.channelId,
      channel: { id: this.channelId, type: 0, guild_id: this.guildId, name: 'general', permissions: '1071698660929' },
      member: this.member(user),
      guild_locale: 'en-US',
      authorizing_integration_owners: { '0': this.guildId },
      context: 0,
    };
  }

  private commandId(name: string): string {
    for (const list of this.registeredCommands.values()) {
      const found = list.find((c) => c.name === name);
      if (found) return found.id;
    }
    throw new Error(`command "${name}" was never registered`);
  }

  private send(payload: any): InteractionView {
    this.dispatch('INTERACTION_CREATE', payload);
    return this.interactions.get(payload.token)!;
  }

  /** The `resolved` part of an interaction naming users: their user objects and, in the guild, member objects. */
  private resolvedUsers(users: FakeUser[]): { users: Record<string, unknown>; members: Record<string, unknown> } {
    const members = Object.fromEntries(users.map((u) => [u.id, (({ user: _user, ...rest }) => rest)(this.member(u))]));
    return { users: Object.fromEntries(users.map((u) => [u.id, this.userObject(u)])), members };
  }

  /**
   * A user runs `/name` with options; attachment options carry the attachment object, user options the user
   * (resolved like Discord does).
   */
  slashCommand(
    user: FakeUser,
    name: string,
    options: Record<string, string | number | boolean | FakeAttachment | FakeUser> = {},
    place: InteractionPlace = {},
  ): InteractionView {
    const payload = this.interactionBase(2, user, place);
    const attachments: Record<string, FakeAttachment> = {};
    const users: FakeUser[] = [];
    const opts = Object.entries(options).map(([optionName, value]) => {
      if (typeof value === 'object' && 'username' in value) {
        users.push(value);
        return { name: optionName, type: 6, value: value.id };
      }
      if (typeof value === 'object') {
        attachments[value.id] = value;
        return { name: optionName, type: 11, value: value.id };
      }
      return { name: optionName, type: typeof value === 'number' ? 10 : typeof value === 'boolean' ? 5 : 3, value };
    });
    payload.data = {
      id: this.commandId(name),
      name,
      type: 1,
      ...(place.dm ? {} : { guild_id: this.guildId }),
      options: opts,
      ...(Object.keys(attachments).length || users.length ? { resolved: { ...(users.length ? this.resolvedUsers(users) : {}), attachments } } : {}),
    };
    return this.send(payload);
  }

  /** A user picks the user context-menu command `name` (Apps → name) on another member, `target`. */
  userCommand(user: FakeUser, name: string, target: FakeUser): InteractionView {
    const payload = this.interactionBase(2, user);
    payload.data = { id: this.commandId(name), name, type: 2, guild_id: this.guildId, target_id: target.id, resolved: this.resolvedUsers([target]) };
    return this.send(payload);
  }

  /** Discord asks for suggestions while a user types `typed` into the option `focused` of `/name`. */
  autocomplete(user: FakeUser, name: string, focused: string, typed: string): InteractionView {
    const payload = this.interactionBase(4, user);
    payload.data = { id: this.commandId(name), name, type: 1, guild_id: this.guildId, options: [{ name: focused, type: 3, value: typed, focused: true }] };
    return this.send(payload);
  }

  /** A user picks the message context-menu command `name` on `message`. */
  messageCommand(user: FakeUser, name: string, message: any): InteractionView {
    const payload = this.interactionBase(2, user);
    payload.data = { id: this.commandId(name), name, type: 3, guild_id: this.guildId, target_id: message.id, resolved: { messages: { [message.id]: message } } };
    return this.send(payload);
  }

  /** A user clicks the button `customId` under `message` (e.g. a result the bot posted). */
  clickButton(user: FakeUser, customId: string, message: any): InteractionView {
    const payload = this.interactionBase(3, user);
    payload.message = message;
    payload.data = { custom_id: customId, component_type: 2 };
    return this.send(payload);
  }

  /** Builds the message object of a bot reply as it exists now (for clicking its buttons). */
  botMessage(view: InteractionView): any {
    const original = view.original;
    if (!original) throw new Error('no original message yet');
    return { ...this.message({ id: this.applicationId, username: 'animebot' }), id: original.id, content: original.content, components: original.components, webhook_id: this.applicationId, application_id: this.applicationId };
  }

  /** Resolves when `predicate` holds, re-checked after every recorded request. */
  waitFor(predicate: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.events.off('call', check);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.events.off('call', check);
        resolve();
      };
      this.events.on('call', check);
    });
  }

  /** Waits until the interaction has a final answer: a picture in the reply, or an ephemeral message. */
  async settled(view: InteractionView, timeoutMs = 60_000): Promise<InteractionView> {
    await this.waitFor(
      () =>
        (view.callbackType === 4 && view.original !== undefined) ||
        view.callbackType === 8 ||
        (view.original?.attachments.length ?? 0) > 0 ||
        view.followUps.length > 0,
      `interaction ${view.id} to settle`,
      timeoutMs,
    );
    return view;
  }

  /** One line per recorded request: method, path (tokens masked), status, start of the JSON body, file names. */
  transcript(): string[] {
    return this.calls.map((c) => {
      const body = c.json === undefined ? '' : ` ${JSON.stringify(c.json).slice(0, 160)}`;
      const files = c.files.length ? ` files=[${c.files.map((f) => `${f.name} ${f.bytes.length}B`).join(', ')}]` : '';
      return `${c.method} ${c.path.replace(/itoken-\d+/, ':token')} → ${c.status}${body}${files}`;
    });
  }

  // ---------- REST ----------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin);
    const method = req.method ?? 'GET';
    const body = await readBody(req);
    const call: RecordedCall = {
      method,
      path: decodeURIComponent(url.pathname).replace(/^\/api\/v\d+/, ''),
      query: Object.fromEntries(url.searchParams),
      auth: req.headers.authorization,
      json: undefined,
      files: [],
      status: 0,
    };
    try {
      await parseBody(call, body, req.headers['content-type']);
      const delay = this.delays.find((r) => r.remaining > 0 && r.method === method && r.path.test(call.path));
      if (delay) {
        delay.remaining -= 1;
        await new Promise((resolve) => setTimeout(resolve, delay.retryAfterS * 1000));
      }
      if (this.injectFault(call, req, res)) return;
      const { status, json, raw, headers = {} } = this.route(call);
      call.status = status;
      const exhausted = status < 300 ? this.exhausted.find((r) => r.remaining > 0 && r.method === method && r.path.test(call.path)) : undefined;
      if (exhausted) {
        exhausted.remaining -= 1;
        Object.assign(headers, { 'x-ratelimit-bucket': `fake-${exhausted.path.source}`, 'x-ratelimit-limit': '1', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset-after': String(exhausted.retryAfterS) });
      }
      if (raw) {
        res.writeHead(status, { 'content-type': raw.contentType, 'content-length': raw.bytes.length });
        res.end(raw.bytes);
      } else if (json === undefined) {
        res.writeHead(status, headers);
        res.end();
      } else {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(json));
      }
    } catch (e) {
      call.status = 500;
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: String(e), code: 0 }));
    }
    this.calls.push(call);
    this.events.emit('call', call);
  }

  /** Answers with an injected fault if a rule matches (recording the call); true when it did. */
  private injectFault(call: RecordedCall, req: IncomingMessage, res: ServerResponse): boolean {
    const rule = this.faults.find((r) => r.remaining > 0 && r.method === call.method && r.path.test(call.path) && (!r.withFiles || call.files.length > 0));
    if (!rule) return false;
    rule.remaining -= 1;
    if (rule.fault === 'reset') {
      call.status = -1;
      req.socket.destroy();
    } else {
      call.status = rule.fault.status;
      res.writeHead(rule.fault.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: rule.fault.status >= 500 ? 'Internal Server Error' : 'Bad Request', code: rule.fault.code ?? 0 }));
    }
    this.calls.push(call);
    this.events.emit('call', call);
    return true;
  }

  private route(call: RecordedCall): { status: number; json?: unknown; headers?: Record<string, string>; raw?: { bytes: Buffer; contentType: string } } {
    const { method, path } = call;
    if (path.startsWith('/cdn/')) {
      const file = this.cdn.get(path);
      return file ? { status: 200, raw: file } : { status: 404, json: { message: 'Not Found' } };
    }
    const limited = this.rateLimits.find((r) => r.remaining > 0 && r.method === method && r.path.test(path));
    if (limited) {
      limited.remaining -= 1;
      return {
        status: 429,
        headers: { 'retry-after': String(limited.retryAfterS), 'x-ratelimit-scope': 'user' },
        json: { message: 'You are being rate limited.', retry_after: limited.retryAfterS, global: false },
      };
    }
    const botAuth = () => call.auth === `Bot ${this.token}`;
    const unauthorized = { status: 401, json: { message: '401: Unauthorized', code: 0 } };
    let m: RegExpExecArray | null;

    if (method === 'GET' && path === '/gateway/bot') {
      if (!botAuth()) return unauthorized;
      return {
        status: 200,
        json: {
          url: `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}/gateway`,
          shards: 1,
          session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 },
        },
      };
    }
    if (method === 'GET' && path === '/users/@me') {
      return botAuth() ? { status: 200, json: this.botUser } : unauthorized;
    }
    if (method === 'GET' && (m = /^\/applications\/(\d+)(?:\/guilds\/(\d+))?\/commands$/.exec(path))) {
      if (!botAuth()) return unauthorized;
      if (m[1] !== this.applicationId) return { status: 404, json: { message: 'Unknown Application', code: 10002 } };
      return { status: 200, json: this.registeredCommands.get(m[2] ?? 'global') ?? [] };
    }
    if (method === 'PUT' && (m = /^\/applications\/(\d+)(?:\/guilds\/(\d+))?\/commands$/.exec(path))) {
      if (!botAuth()) return unauthorized;
      if (m[1] !== this.applicationId) return { status: 404, json: { message: 'Unknown Application', code: 10002 } };
      const scope = m[2] ?? 'global';
      const commands = (call.json as any[]).map((c) => ({ ...c, id: this.snowflake(), application_id: this.applicationId, version: this.snowflake(), ...(m![2] ? { guild_id: m![2] } : {}) }));
      this.registeredCommands.set(scope, commands);
      return { status: 200, json: commands };
    }
    if (method === 'POST' && (m = /^\/channels\/(\d+)\/messages$/.exec(path))) {
      if (!botAuth()) return unauthorized;
      const data = call.json as any;
      const msg = { ...this.newMessage(data?.content ?? '', 0, call.files, data?.components ?? []), channelId: m[1], allowedMentions: data?.allowed_mentions };
      this.channelMessages.push(msg);
      return { status: 200, json: this.messageJson(msg) };
    }
    if (method === 'POST' && (m = /^\/interactions\/(\d+)\/([^/]+)\/callback$/.exec(path))) {
      const view = this.interactions.get(m[2]);
      if (!view || view.id !== m[1]) return { status: 404, json: { message: 'Unknown interaction', code: 10062 } };
      if (view.callbackType !== undefined) return { status: 400, json: { message: 'Interaction has already been acknowledged.', code: 40060 } };
      const { type, data } = call.json as { type: number; data?: any };
      view.callbackType = type;
      view.callbackFlags = data?.flags ?? 0;
      if (type === 8) view.autocompleteChoices = data?.choices ?? [];
      if (type === 4 || type === 5) {
        view.original = this.newMessage(data?.content ?? '', view.callbackFlags, call.files, data?.components ?? []);
      }
      return { status: 204 };
    }
    if ((m = /^\/webhooks\/(\d+)\/([^/]+)(?:\/messages\/([^/]+))?$/.exec(path))) {
      const view = this.interactions.get(m[2]);
      if (!view || m[1] !== this.applicationId) return { status: 404, json: { message: 'Unknown Webhook', code: 10015 } };
      if (Date.now() - view.createdAt > this.tokenLifetimeMs) return { status: 401, json: { message: 'Invalid Webhook Token', code: 50027 } };
      const target = m[3] === '@original' ? view.original : view.followUps.find((f) => f.id === m![3]);
      if (method === 'POST' && !m[3]) {
        const data = call.json as any;
        const msg = this.newMessage(data?.content ?? '', data?.flags ?? 0, call.files, data?.components ?? []);
        view.followUps.push(msg);
        return { status: 200, json: this.messageJson(msg) };
      }
      if (!target || target.deleted) return { status: 404, json: { message: 'Unknown Message', code: 10008 } };
      if (method === 'GET') return { status: 200, json: this.messageJson(target) };
      if (method === 'DELETE') {
        target.deleted = true;
        return { status: 204 };
      }
      if (method === 'PATCH') {
        const data = (call.json ?? {}) as any;
        if (typeof data.content === 'string') {
          target.content = data.content;
          target.history.push(data.content);
        }
        if (Array.isArray(data.components)) target.components = data.components;
        if (call.files.length) {
          target.attachments = call.files;
          target.filesAtCall = this.calls.length;
        }
        return { status: 200, json: this.messageJson(target) };
      }
    }
    return { status: 404, json: { message: '404: Not Found', code: 0 } };
  }

  private newMessage(content: string, flags: number, files: RecordedFile[], components: any[]): FakeMessage {
    return { id: this.snowflake(), content, flags, attachments: files, components, history: content ? [content] : [], deleted: false };
  }

  private messageJson(msg: FakeMessage): any {
    return {
      ...this.message({ id: this.applicationId, username: 'animebot' }, { content: msg.content, components: msg.components }),
      id: msg.id,
      author: this.botUser,
      flags: msg.flags,
      webhook_id: this.applicationId,
      application_id: this.applicationId,
      attachments: msg.attachments.map((f, i) => ({
        id: String(i),
        filename: f.name,
        size: f.bytes.length,
        url: `${this.origin}/cdn/results/${msg.id}/${f.name}`,
        proxy_url: `${this.origin}/cdn/results/${msg.id}/${f.name}`,
        content_type: f.contentType,
      })),
    };
  }
}

export function isEphemeral(msg: FakeMessage | undefined): boolean {
  return msg !== undefined && (msg.flags & EPHEMERAL) !== 0;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** JSON bodies, and multipart bodies the way discord.js sends files (`payload_json` + `files[n]`). */
async function parseBody(call: RecordedCall, body: Buffer, contentType: string | undefined): Promise<void> {
  if (!body.length || !contentType) return;
  if (contentType.startsWith('application/json')) {
    call.json = JSON.parse(body.toString('utf8'));
    return;
  }
  if (contentType.startsWith('multipart/form-data')) {
    const form = await new Response(body, { headers: { 'content-type': contentType } }).formData();
    for (const [field, value] of form.entries()) {
      if (typeof value === 'string') {
        if (field === 'payload_json') call.json = JSON.parse(value);
      } else {
        call.files.push({ field, name: value.name, contentType: value.type, bytes: Buffer.from(await value.arrayBuffer()) });
      }
    }
  }
}

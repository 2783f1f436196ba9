// The fake Slack's workspace in memory: users, channels, messages, views, files, canvases, and the rules every method
// shares (which channels the bot sees, ids and timestamps as Slack makes them). The methods of each API area act on it.
import {
  SlackApiError,
  FAKE_WORKSPACE,
  type Args,
  type ChannelSeed,
  type FakeCanvas,
  type FakeChannel,
  type FakeEphemeral,
  type FakeFile,
  type FakeMessage,
  type FakeSlackOptions,
  type FakeUser,
  type FakeUsergroup,
  type FakeView,
  type UserSeed,
  type UsergroupSeed,
} from './types.ts';
import { str } from './args.ts';

export class SlackState {
  readonly options: FakeSlackOptions;
  readonly workspace: typeof FAKE_WORKSPACE;
  /** `http://127.0.0.1:PORT` once the server listens: upload and response URLs start with it. */
  origin = '';
  #idCounter = 0;
  #lastTsMicros = 0;

  users = new Map<string, FakeUser>();
  channels = new Map<string, FakeChannel>();
  usergroups = new Map<string, FakeUsergroup>();
  messages: FakeMessage[] = [];
  ephemerals: FakeEphemeral[] = [];
  views = new Map<string, FakeView>();
  files = new Map<string, FakeFile>();
  canvases = new Map<string, FakeCanvas>();
  /** The error canvas calls answer with (a free workspace, canvases turned off), or undefined when allowed. */
  canvasRefusal: string | undefined;
  usedTriggers = new Set<string>();
  /** Set by serveSocketMode; kept across reset(). */
  socketMode: { appToken: string; open: () => { url: string } | { error: string } } | undefined;

  constructor(options: FakeSlackOptions) {
    this.options = options;
    this.workspace = { ...FAKE_WORKSPACE, ...options.workspace };
    this.#seed();
  }

  /** Back to the seeded workspace; ids and timestamps keep counting, so none is given twice. */
  reset(): void {
    this.users.clear();
    this.channels.clear();
    this.usergroups.clear();
    this.messages = [];
    this.ephemerals = [];
    this.views.clear();
    this.files.clear();
    this.canvases.clear();
    this.canvasRefusal = undefined;
    this.usedTriggers.clear();
    this.#seed();
  }

  addUser(seed: UserSeed): FakeUser {
    const user: FakeUser = {
      name: seed.id.toLowerCase(),
      realName: seed.name ?? seed.id,
      isBot: false,
      deleted: false,
      tz: 'Europe/London',
      ...seed,
    };
    this.users.set(user.id, user);
    return user;
  }

  /** Pre-creates a channel (archived ones too); throws when the name is taken, as conversations.create would refuse. */
  addChannel(seed: ChannelSeed): FakeChannel {
    if (this.findByName(seed.name)) throw new Error(`fake-slack: a channel named ${seed.name} exists`);
    const defaultMembers = [this.workspace.botUserId, ...[...this.users.values()].filter((u) => !u.isBot).map((u) => u.id)];
    const channel: FakeChannel = {
      id: seed.id ?? this.newId(seed.isPrivate ? 'G' : 'C'),
      name: seed.name.replace(/^#/, ''),
      isPrivate: seed.isPrivate ?? false,
      isArchived: seed.isArchived ?? false,
      isIm: false,
      topic: seed.topic ?? '',
      purpose: seed.purpose ?? '',
      members: [...new Set(seed.members ?? defaultMembers)],
      creator: this.workspace.botUserId,
      created: Math.floor(Date.now() / 1000),
    };
    this.channels.set(channel.id, channel);
    return channel;
  }

  addUsergroup(seed: UsergroupSeed): FakeUsergroup {
    const group: FakeUsergroup = { handle: seed.id.toLowerCase(), name: seed.id, ...seed, users: [...seed.users] };
    this.usergroups.set(group.id, group);
    return group;
  }

  #seed(): void {
    const ws = this.workspace;
    this.addUser({ id: ws.botUserId, name: ws.botName, realName: ws.botName, isBot: true });
    for (const user of this.options.users ?? []) this.addUser(user);
    for (const channel of this.options.channels ?? []) this.addChannel(channel);
    for (const group of this.options.usergroups ?? []) this.addUsergroup(group);
  }

  newId(prefix: string): string {
    this.#idCounter += 1;
    return prefix + this.#idCounter.toString(36).toUpperCase().padStart(10, '0');
  }

  /** Slack's message ts: epoch seconds with microseconds, unique and increasing. */
  newTs(): string {
    this.#lastTsMicros = Math.max(this.#lastTsMicros + 1, Date.now() * 1000);
    return `${Math.floor(this.#lastTsMicros / 1e6)}.${String(this.#lastTsMicros % 1e6).padStart(6, '0')}`;
  }

  findByName(name: string): FakeChannel | undefined {
    const bare = name.replace(/^#/, '');
    const matches = [...this.channels.values()].filter((c) => !c.isIm && c.name === bare);
    return matches.find((c) => !c.isArchived) ?? matches[0];
  }

  /** An id of a known channel, `#name` or `name`, or a user id (their DM with the bot). */
  resolveChannel(ref: string): FakeChannel | undefined {
    const byId = this.channels.get(ref);
    if (byId) return byId;
    if (this.users.has(ref)) return this.dm(ref);
    return this.findByName(ref);
  }

  dm(userId: string): FakeChannel {
    const existing = [...this.channels.values()].find((c) => c.isIm && c.members.includes(userId));
    if (existing) return existing;
    const channel: FakeChannel = {
      id: this.newId('D'),
      name: userId,
      isPrivate: true,
      isArchived: false,
      isIm: true,
      topic: '',
      purpose: '',
      members: [this.workspace.botUserId, userId],
      creator: this.workspace.botUserId,
      created: Math.floor(Date.now() / 1000),
    };
    this.channels.set(channel.id, channel);
    return channel;
  }

  /** A channel the bot can see, by id only (conversations.* and chat.update take ids). */
  channelById(args: Args, key = 'channel'): FakeChannel {
    const channel = this.channels.get(str(args, key));
    if (!channel || !this.canSee(channel)) throw new SlackApiError('channel_not_found');
    return channel;
  }

  /** Private channels the bot is not in do not exist for it. */
  canSee(channel: FakeChannel): boolean {
    return !channel.isPrivate || channel.members.includes(this.workspace.botUserId);
  }

  requireMember(channel: FakeChannel): void {
    if (!channel.members.includes(this.workspace.botUserId)) throw new SlackApiError('not_in_channel');
  }

  requireOpen(channel: FakeChannel): void {
    if (channel.isArchived) throw new SlackApiError('is_archived');
  }

  /** A channel to post in: id, name or user id; public channels need no membership (chat:write.public). */
  postTarget(args: Args): FakeChannel {
    const channel = this.resolveChannel(str(args, 'channel'));
    if (!channel || !this.canSee(channel)) throw new SlackApiError('channel_not_found');
    this.requireOpen(channel);
    return channel;
  }

  message(channel: FakeChannel, ts: string): FakeMessage {
    if (!ts) throw new SlackApiError('message_not_found');
    const message = this.messages.find((m) => m.channel === channel.id && m.ts === ts);
    if (!message) throw new SlackApiError('message_not_found');
    return message;
  }

  user(id: string): FakeUser {
    const user = this.users.get(id);
    if (!user) throw new SlackApiError('user_not_found');
    return user;
  }
}

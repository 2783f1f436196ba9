// Who may do what: per action and per service, by Slack user or user group, with group membership cached briefly.
import type { WebClient } from '@slack/web-api';
import { slackErrorCode } from '../clients/slack.ts';
import type { Clock } from '../clock.ts';
import type { Config, PermissionAction } from '../config/schema.ts';
import { NotPermittedError } from '../errors.ts';
import { confirmersText } from '../slack/confirmation-blocks.ts';
import { escapeText } from '../slack/escape.ts';
import type { Logger } from '../log.ts';

export interface PermissionDecision {
  allowed: boolean;
  /** The principals the rule allows; undefined when the action is open to everyone. */
  rule: string[] | undefined;
  /** Why: the user or group that matched, "open", or what went wrong. */
  reason: string;
}

const ACTION_WORDS: Record<PermissionAction, string> = {
  incident: 'declare incidents',
  resolve: 'resolve incidents',
  health: 'run health checks',
  backup: 'run backups',
  restore: 'run restore tests',
  rollback: 'roll back deployments',
  privacyReset: 'reset the privacy budget',
};

export class Permissions {
  readonly #config: Config;
  readonly #slack: WebClient;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #ttlMs: number;
  readonly #groups = new Map<string, { members: Set<string>; fetchedAt: number }>();

  constructor(options: { config: Config; slack: WebClient; clock: Clock; logger: Logger; cacheTtlMs?: number }) {
    this.#config = options.config;
    this.#slack = options.slack;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#ttlMs = options.cacheTtlMs ?? 60_000;
  }

  /** The rule for an action: the service's own list wins over the global one; no list means open to all. */
  ruleFor(action: PermissionAction, service?: string): string[] | undefined {
    const own = service ? this.#config.file.services[service]?.permissions?.[action] : undefined;
    return own ?? this.#config.file.permissions[action];
  }

  async check(action: PermissionAction, service: string | undefined, userId: string): Promise<PermissionDecision> {
    const rule = this.ruleFor(action, service);
    const decision = rule === undefined ? { allowed: true, rule, reason: 'open' } : await this.#matchRule(rule, userId);
    this.#logDecision(action, service, userId, decision);
    return decision;
  }

  /** Throws NotPermittedError, naming who may, when the user may not. */
  async require(action: PermissionAction, service: string | undefined, userId: string): Promise<PermissionDecision> {
    const decision = await this.check(action, service, userId);
    if (!decision.allowed) throw new NotPermittedError(deniedMessage(action, service, decision));
    return decision;
  }

  /**
   * The decision when it needs no Slack call (an open action, a listed user, group members in the cache): true when
   * allowed, NotPermittedError when not, false when a group has to be looked up first (then call `require`).
   */
  requireNow(action: PermissionAction, service: string | undefined, userId: string): boolean {
    const decision = this.#decideNow(this.ruleFor(action, service), userId);
    if (!decision) return false;
    this.#logDecision(action, service, userId, decision);
    if (!decision.allowed) throw new NotPermittedError(deniedMessage(action, service, decision));
    return true;
  }

  #decideNow(rule: string[] | undefined, userId: string): PermissionDecision | undefined {
    if (rule === undefined) return { allowed: true, rule, reason: 'open' };
    if (rule.includes(userId)) return { allowed: true, rule, reason: `user ${userId}` };
    const now = this.#clock.now().getTime();
    let unknown = false;
    for (const group of rule.filter((principal) => principal.startsWith('S'))) {
      const cached = this.#groups.get(group);
      if (!cached || now - cached.fetchedAt >= this.#ttlMs) unknown = true;
      else if (cached.members.has(userId)) return { allowed: true, rule, reason: `member of ${group}` };
    }
    return unknown ? undefined : { allowed: false, rule, reason: 'not listed' };
  }

  #logDecision(action: PermissionAction, service: string | undefined, userId: string, decision: PermissionDecision): void {
    // A refusal is a security event; an allowed request is already in the audit log, and a line for each (written
    // before its ack) cost every command a formatted log write.
    const level = decision.allowed ? 'debug' : 'info';
    if (!this.#logger.isLevelEnabled(level)) return;
    this.#logger[level]({
      event: 'permission.decision',
      action,
      service,
      user: userId,
      allowed: decision.allowed,
      reason: decision.reason,
    });
  }

  /** True when the user is one of the principals (a user id, or a member of a group id). */
  async isAnyOf(userId: string, principals: readonly string[]): Promise<boolean> {
    return (await this.#matchRule([...principals], userId)).allowed;
  }

  async #matchRule(rule: string[], userId: string): Promise<PermissionDecision> {
    if (rule.includes(userId)) return { allowed: true, rule, reason: `user ${userId}` };
    const failures: string[] = [];
    for (const group of rule.filter((principal) => principal.startsWith('S'))) {
      try {
        if ((await this.#members(group)).has(userId)) return { allowed: true, rule, reason: `member of ${group}` };
      } catch (error) {
        // Fail closed: an unreadable group grants nothing.
        failures.push(`${group}: ${slackErrorCode(error)}`);
        this.#logger.warn({ event: 'permission.group_lookup_failed', group, code: slackErrorCode(error) });
      }
    }
    return { allowed: false, rule, reason: failures.length > 0 ? `group lookup failed (${failures.join(', ')})` : 'not listed' };
  }

  async #members(group: string): Promise<Set<string>> {
    const now = this.#clock.now().getTime();
    const cached = this.#groups.get(group);
    if (cached && now - cached.fetchedAt < this.#ttlMs) return cached.members;
    const result = await this.#slack.usergroups.users.list({ usergroup: group });
    const members = new Set(result.users ?? []);
    this.#groups.set(group, { members, fetchedAt: now });
    return members;
  }
}

function deniedMessage(action: PermissionAction, service: string | undefined, decision: PermissionDecision): string {
  const who = confirmersText(decision.rule ?? []);
  const where = service ? ` for \`${escapeText(service)}\`` : '';
  const lookup = decision.reason.startsWith('group lookup failed')
    ? ` (I could not check group membership: ${decision.reason.slice(20)})`
    : '';
  return `:no_entry: You are not allowed to ${ACTION_WORDS[action]}${where}. Only ${who} may${lookup}. Ask one of them, or an admin to change \`permissions.${action}\` in the bot's config.`;
}

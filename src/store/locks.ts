// The one list of advisory-lock ids: every replica must use the same number for the same critical section.

export const LOCK_IDS = {
  /** Applying migrations: replicas starting together apply each one once. */
  migrations: 7_246_117_001,
  /** Appending to the audit chain: no forks. */
  audit: 7_246_117_002,
  /** Deciding what an Alertmanager group becomes (its incident, a storm, a summary). */
  alerts: 7_246_117_007,
  /** Reserving incident channel names: same-minute incidents get -2, -3… without asking Slack. */
  channelNames: 7_246_117_008,
  /** Appending an entry to a rolling Slack message (a read-modify-write of its queued payload). */
  rollingPosts: 7_246_117_009,
} as const;

export type LockId = (typeof LOCK_IDS)[keyof typeof LOCK_IDS];

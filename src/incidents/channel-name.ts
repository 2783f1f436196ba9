// Incident channel names: <prefix>-YYYY-MM-DD-HHMM in the configured time zone, then -2, -3… when taken.

const SLACK_CHANNEL_NAME_MAX = 80;

/** "incident-2026-11-22-1534" (attempt 1), "incident-2026-11-22-1534-2" (attempt 2), … */
export function incidentChannelName(prefix: string, at: Date, timezone: string, attempt = 1): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', {
      timeZone: timezone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(at)
      .map((part) => [part.type, part.value]),
  ) as Record<string, string>;
  const stamp = `${parts.year}-${parts.month}-${parts.day}-${parts.hour}${parts.minute}`;
  const suffix = attempt > 1 ? `-${attempt}` : '';
  const base = slackSafe(prefix).slice(0, SLACK_CHANNEL_NAME_MAX - stamp.length - suffix.length - 1);
  return `${base}-${stamp}${suffix}`;
}

/** Slack's rules: lower case letters, digits, hyphens and underscores only. */
function slackSafe(prefix: string): string {
  return (
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'incident'
  );
}

// The one escaping rule for text the bot did not write itself (titles, notes, alert labels, remote answers) before it reaches Slack.
//
// Slack's mrkdwn, topics and plain_text treat `<…>` as control sequences (<!channel>, <@U…>, <!subteam^S…>,
// <http://…|label>). Escaping `&`, `<` and `>` as Slack documents makes every such sequence typed by a person or
// sent by an alert show as text. Tasks return raw text; the builders in src/slack escape it where they place it.
// https://api.slack.com/reference/surfaces/formatting#escaping

/** `&`, `<` and `>` escaped: mentions and links inside show as text. */
export function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The text escapeText was given: for printing on a terminal what was written for Slack (the CLI's error messages). */
export function unescapeText(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** Escaped, and at most `max` characters: cut (with …) where no `&amp;`, `&lt;` or `&gt;` is split. */
export function escapeClipped(text: string, max: number): string {
  const escaped = escapeText(text);
  if (escaped.length <= max) return escaped;
  let cut = escaped.slice(0, max - 1);
  const amp = cut.lastIndexOf('&');
  if (amp !== -1 && !cut.slice(amp).includes(';')) cut = cut.slice(0, amp);
  return `${cut}…`;
}

/**
 * A link the bot builds itself (a runbook URL from config, Alertmanager's generatorURL), labelled by the bot.
 * Only http(s) URLs become links; anything else is shown as escaped text.
 */
export function botLink(url: string, label: string): string {
  if (!/^https?:\/\/[^\s<>|]+$/i.test(url)) return escapeText(label);
  return `<${url}|${escapeText(label).replace(/\|/g, '¦')}>`;
}

/** A mention of a Slack user or user group the bot knows by id (config, Slack's own payloads); never user text. */
export function mention(principal: string): string {
  if (!/^[UWS][A-Z0-9]+$/.test(principal)) return escapeText(principal);
  return principal.startsWith('S') ? `<!subteam^${principal}>` : `<@${principal}>`;
}

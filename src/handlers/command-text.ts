// Splits slash-command text into words (quotes keep phrases together) and finds the subcommand.

/** `declare "db is down" now` → ['declare', 'db is down', 'now']. Slack's smart quotes count as quotes. */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  const pattern = /"([^"]*)"|“([^”]*)”|'([^']*)'|(\S+)/g;
  for (const match of text.trim().matchAll(pattern)) {
    words.push(match[1] ?? match[2] ?? match[3] ?? match[4] ?? '');
  }
  return words;
}

/** The text after the first word, as typed (for free text such as notes and titles). */
export function restAfterFirstWord(text: string): string {
  const trimmed = text.trim();
  const space = trimmed.search(/\s/);
  return space === -1 ? '' : trimmed.slice(space + 1).trim();
}

/** A Slack user mention "<@U123|name>" or "<@U123>" → "U123". */
export function parseUserMention(word: string): string | undefined {
  return /^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$/.exec(word)?.[1];
}

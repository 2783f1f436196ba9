// Slash-command text as users type it: quoted phrases, Slack's smart quotes, odd whitespace, mentions.
import { describe, expect, it } from 'vitest';
import { parseUserMention, restAfterFirstWord, splitWords } from '../../../src/handlers/command-text.ts';

describe('splitWords', () => {
  it.each([
    ['', []],
    ['   ', []],
    ['declare "db is down" now', ['declare', 'db is down', 'now']],
    ['declare “db is down” now', ['declare', 'db is down', 'now']],
    ["note 'back up' again", ['note', 'back up', 'again']],
    ['  all\t--details\n', ['all', '--details']],
    ['say ""', ['say', '']],
    // An unclosed quote is not a phrase: the quote stays on its word.
    ['say "hello world', ['say', '"hello', 'world']],
  ])('%j → %j', (text, words) => {
    expect(splitWords(text)).toEqual(words);
  });
});

describe('restAfterFirstWord', () => {
  it.each([
    ['', ''],
    ['note', ''],
    ['note   the db  is back ', 'the db  is back'],
    ['  resolve\tfixed by a restart', 'fixed by a restart'],
    ['update "quoted" stays quoted', '"quoted" stays quoted'],
  ])('%j → %j (as typed, inner spacing kept)', (text, rest) => {
    expect(restAfterFirstWord(text)).toBe(rest);
  });
});

describe('parseUserMention', () => {
  it.each([
    ['<@U0ALICE>', 'U0ALICE'],
    ['<@U0ALICE|alice>', 'U0ALICE'],
    ['<@W0ENTERPRISE|bob>', 'W0ENTERPRISE'],
  ])('%j is user %s', (word, user) => {
    expect(parseUserMention(word)).toBe(user);
  });

  it.each(['@alice', 'U0ALICE', '<@u0alice>', '<#C0GENERAL>', '<!subteam^S0ONCALL>', '<@U0ALICE> ', 'x<@U0ALICE>'])(
    '%j is not a user mention',
    (word) => {
      expect(parseUserMention(word)).toBeUndefined();
    },
  );
});

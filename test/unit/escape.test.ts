// The escaping rule: mentions and links in untrusted text show as text; links and mentions the bot builds stay live.
import { describe, expect, it } from 'vitest';
import { botLink, escapeClipped, escapeText, mention, unescapeText } from '../../src/slack/escape.ts';

describe('escapeText', () => {
  it.each([
    ['<!channel>', '&lt;!channel&gt;'],
    ['<!here> <@U0CEO>', '&lt;!here&gt; &lt;@U0CEO&gt;'],
    ['<!subteam^S0EXEC>', '&lt;!subteam^S0EXEC&gt;'],
    ['<http://evil.example/login|Join the bridge>', '&lt;http://evil.example/login|Join the bridge&gt;'],
    ['a & b', 'a &amp; b'],
    ['&lt;already&gt;', '&amp;lt;already&amp;gt;'],
  ])('%s → %s', (input, expected) => {
    expect(escapeText(input)).toBe(expected);
    expect(unescapeText(expected)).toBe(input);
  });
});

describe('botLink and mention', () => {
  it('keeps an http(s) link live with an escaped label, and refuses other schemes', () => {
    expect(botLink('https://runbooks.example/db', 'Runbook <!channel>')).toBe(
      '<https://runbooks.example/db|Runbook &lt;!channel&gt;>',
    );
    expect(botLink('javascript:alert(1)', 'click')).toBe('click');
    expect(botLink('https://x.example/|<!here>', 'x')).toBe('x');
  });

  it('mentions ids only', () => {
    expect(mention('U0CEO')).toBe('<@U0CEO>');
    expect(mention('S0EXEC')).toBe('<!subteam^S0EXEC>');
    expect(mention('<!channel>')).toBe('&lt;!channel&gt;');
  });
});

describe('escapeClipped', () => {
  it('cuts to the limit without splitting an escaped character', () => {
    expect(escapeClipped('ab<cd', 5)).toBe('ab…');
    expect(escapeClipped('a<b', 10)).toBe('a&lt;b');
    expect(escapeClipped('abcdef', 4)).toBe('abc…');
  });
});

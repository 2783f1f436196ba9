// A fake Slack Web API on loopback: an in-memory workspace answering the methods runbook-bot calls as Slack does, with call recording and fault injection.
// Split by API area in slack/: server.ts (HTTP, router, recording, injected refusals), state.ts (the workspace), and
// one file per area (auth, conversations, chat, users, views, files and canvases); limits and faults in slack-limits.ts.
//
// Deliberate simplifications: no system messages (channel_join, channel_topic) are added to channel history, no
// per-method rate limits unless injected with failNext, and every call acts as the one bot user.
export { startFakeSlack, FakeSlack } from './slack/server.ts';
export { blocksProblem } from './slack/blocks.ts';
export { channelNameProblem } from './slack/conversations.ts';
// The workspace's shapes (users, channels, messages, files, views…) and the recorded calls.
export * from './slack/types.ts';

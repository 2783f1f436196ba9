#!/usr/bin/env node
// The `runbook-bot` command: the compiled CLI when built, else the TypeScript source (Node >= 22.20 runs it directly).
import { existsSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';

// A CLI run is short and keeps most of what it allocates (modules, the config): V8's memory-saving heuristics keep its
// young generation small at no measurable cost in time. Set first, before any module grows the heap; the bot's own
// process gets --max-semi-space-size from its start command instead. `health all` (bench:footprint --cli-only):
// peak RSS 104-106 MB -> 91-93 MB; 86-87 MB -> 79-80 MB on a quieter machine.
setFlagsFromString('--optimize-for-size');

const built = new URL('../dist/src/cli.js', import.meta.url);
const { cliMain } = await import(existsSync(built) ? built.href : new URL('../src/cli.ts', import.meta.url).href);
await cliMain();

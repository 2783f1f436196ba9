#!/usr/bin/env node
// The `runbook-bot` command: the compiled CLI when built, else the TypeScript source (Node >= 22.20 runs it directly).
import { existsSync } from 'node:fs';

const built = new URL('../dist/src/cli.js', import.meta.url);
const { cliMain } = await import(existsSync(built) ? built.href : new URL('../src/cli.ts', import.meta.url).href);
await cliMain();

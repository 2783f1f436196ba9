// The error-code registry: every code is described, and every code is raised somewhere (no dead entries).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.ts';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('error codes', () => {
  const registry = readFileSync('src/errors.ts', 'utf8');
  const registryBlock = registry.slice(registry.indexOf('export const ERROR_CODES'), registry.indexOf('} as const;'));
  const source = sourceFiles('src')
    .map((file) => readFileSync(file, 'utf8'))
    .join('\n')
    .replace(registryBlock, '');

  it.each(Object.entries(ERROR_CODES))('%s is described and raised somewhere', (code, description) => {
    expect(description.length).toBeGreaterThan(20);
    expect(source).toContain(`'${code}'`);
  });
});

// Copies the files tsc does not emit (SQL migrations) next to the compiled code in dist/. The target folder is replaced,
// not merged: a migration renamed or removed in src/ must not live on in dist/ (two files with one version number).
import { cpSync, rmSync } from 'node:fs';

rmSync('dist/src/store/migrations', { recursive: true, force: true });
cpSync('src/store/migrations', 'dist/src/store/migrations', { recursive: true });

#!/usr/bin/env node
// The installed `raftlock` command: runs the compiled CLI (npm install builds it via `prepare`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = new URL('../dist/bin/raftlock.js', import.meta.url);
if (!existsSync(fileURLToPath(compiled))) {
  process.stderr.write('raftlock: the CLI is not built yet; run `npm run build` in the package first\n');
  process.exit(2);
}
await import(compiled.href);

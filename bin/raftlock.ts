#!/usr/bin/env node
import { buildProgram, usageExitCode } from '../src/cli/program.js';

try {
  await buildProgram().parseAsync(process.argv);
} catch (error: unknown) {
  const code = usageExitCode(error);
  if (code === null) throw error;
  process.exit(code);
}

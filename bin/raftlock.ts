#!/usr/bin/env node
import { buildProgram } from '../src/cli/program.js';

await buildProgram().parseAsync(process.argv);

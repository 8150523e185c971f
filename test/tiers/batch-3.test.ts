// Batch 3 of the unit tier: see unit-files.ts.
import { runBatch } from './unit-files.js';

await runBatch(3);

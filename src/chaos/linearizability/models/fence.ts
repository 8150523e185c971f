/**
 * A fenced resource: it accepts a write whose token is at least the highest token it has accepted
 * (the same holder may write again) and refuses an older one. Checked against this model, a history
 * shows whether the resource ever accepted a stale token, and whether its refusals were right.
 */
import { accept, refuse } from '../model.js';
import type { Model, StepResult } from '../model.js';

export type FenceInput = { readonly resource: string; readonly token: number; readonly value: string };
export type FenceOutput = { readonly accepted: boolean };
export type FenceState = { readonly highest: number; readonly value: string | null };

function step(s: FenceState, input: FenceInput, output: FenceOutput | undefined): StepResult<FenceState> {
  const fresh = input.token >= s.highest;
  const next = fresh ? { highest: input.token, value: input.value } : s;
  if (output === undefined) return accept(next);
  if (output.accepted && !fresh) return refuse(`token ${input.token} is stale: ${s.highest} was accepted before`);
  if (!output.accepted && fresh)
    return refuse(`token ${input.token} is not below ${s.highest}, so the write must be accepted`);
  return accept(next);
}

export const fenceModel: Model<FenceState, FenceInput, FenceOutput> = {
  name: 'fenced resource',
  init: () => ({ highest: 0, value: null }),
  step,
  hash: (s) => `${s.highest}|${s.value ?? ''}`,
  equal: (a, b) => a.highest === b.highest && a.value === b.value,
  partitionKey: (input) => input.resource,
  describeOperation: (input, output) =>
    `write(${input.resource}, token ${input.token}, ${JSON.stringify(input.value)}) -> ${output === undefined ? '?' : output.accepted ? 'accepted' : 'refused'}`,
  describeState: (s) => `highest accepted token ${s.highest}`,
};

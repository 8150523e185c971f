import type { NodeId } from './types.js';

/** Why the core refused a proposal; the host turns it into a client-facing result. */
export type ProposeError =
  | { readonly code: 'NOT_LEADER'; readonly leader: NodeId | null }
  | {
      readonly code: 'DROPPED';
      readonly reason: 'transfer-in-progress' | 'uncommitted-limit' | 'config-change-pending' | 'invalid-config-change';
      readonly message: string;
    };

export type StepError =
  { readonly code: 'UNKNOWN_PEER'; readonly peer: NodeId } | { readonly code: 'WRONG_RECIPIENT'; readonly to: NodeId };

export type TransferError =
  | { readonly code: 'NOT_LEADER'; readonly leader: NodeId | null }
  | { readonly code: 'INVALID_TARGET'; readonly message: string };

export type ReadIndexError = { readonly code: 'NOT_LEADER'; readonly leader: NodeId | null };

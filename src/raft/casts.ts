import type { Message } from './messages.js';
import type { LogIndex, Term } from './types.js';

/**
 * Inside the core, terms and indexes are plain numbers (arithmetic on brands needs casts anyway);
 * these re-brand values where they leave the core, without the validation cost of `term()` and
 * `logIndex()` on the hot path: the core only produces non-negative integers.
 */
export const asTerm = (n: number): Term => n as Term;
export const asIndex = (n: number): LogIndex => n as LogIndex;

/** The message variant with type `T`. */
export type MessageOf<T extends Message['type']> = Extract<Message, { type: T }>;

/**
 * Network partitions as sets of blocked directed links. Raft peers send on one outbound connection
 * per peer (src/transport/tcp.ts), so "a cannot reach b" is exactly "the link a→b drops", and every
 * shape, symmetric or not, is a set of such links.
 */
import { assertNever } from '../util/assert.js';

export type PartitionShape =
  /** Two sides that cannot talk; `minority` is the smaller side (any size below half). */
  | { readonly kind: 'split'; readonly minority: readonly string[] }
  /** One node cut off from every other (an isolated leader when the node is the leader). */
  | { readonly kind: 'isolate'; readonly node: string }
  /** Two halves that cannot talk, with one node that talks to both (Jepsen's "bridge"). */
  | { readonly kind: 'bridge'; readonly bridge: string; readonly left: readonly string[] }
  /** Messages from `from` to the others are lost; the other way passes. */
  | { readonly kind: 'one-way'; readonly from: readonly string[] };

/** A directed link, written `from->to`. */
export type LinkName = `${string}->${string}`;

export const linkName = (from: string, to: string): LinkName => `${from}->${to}`;

/** Every directed link between distinct nodes, in a stable order. */
export function allLinks(nodes: readonly string[]): LinkName[] {
  const links: LinkName[] = [];
  for (const from of nodes) for (const to of nodes) if (from !== to) links.push(linkName(from, to));
  return links;
}

/** The directed links a shape blocks, in `allLinks` order. Unknown node names are an error. */
export function blockedLinks(shape: PartitionShape, nodes: readonly string[]): LinkName[] {
  const known = new Set(nodes);
  const check = (names: readonly string[]): Set<string> => {
    for (const n of names) if (!known.has(n)) throw new RangeError(`partition names unknown node ${n}`);
    return new Set(names);
  };
  let blocked: (from: string, to: string) => boolean;
  switch (shape.kind) {
    case 'split': {
      const side = check(shape.minority);
      blocked = (from, to) => side.has(from) !== side.has(to);
      break;
    }
    case 'isolate': {
      check([shape.node]);
      blocked = (from, to) => from === shape.node || to === shape.node;
      break;
    }
    case 'bridge': {
      check([shape.bridge]);
      const left = check(shape.left);
      if (left.has(shape.bridge)) throw new RangeError('the bridge cannot be on a side');
      blocked = (from, to) => from !== shape.bridge && to !== shape.bridge && left.has(from) !== left.has(to);
      break;
    }
    case 'one-way': {
      const senders = check(shape.from);
      blocked = (from, to) => senders.has(from) && !senders.has(to);
      break;
    }
    default:
      return assertNever(shape, 'partition shape');
  }
  return allLinks(nodes).filter((link) => {
    const [from, to] = link.split('->') as [string, string];
    return blocked(from, to);
  });
}

import type { Command } from 'commander';
import type { RaftlockClient } from '../client/client.js';
import type { MemberView } from '../protocol/client-protocol.js';
import type { NodeId } from '../raft/types.js';
import type { ClusterOptions } from './client-common.js';
import {
  action,
  clusterOptions,
  exitCodes,
  nodeIdArgument,
  print,
  sessionlessClient,
  table,
  toJson,
} from './client-common.js';

interface AddOptions extends ClusterOptions {
  readonly peer?: string;
  readonly client?: string;
}

/** Runs one operator call on a client without a session. */
async function withOperator<T>(options: ClusterOptions, run: (client: RaftlockClient) => Promise<T>): Promise<T> {
  const { client } = await sessionlessClient(options);
  try {
    return await run(client);
  } finally {
    client.abandon();
  }
}

async function runList(options: ClusterOptions): Promise<number> {
  const members = await withOperator(options, (client) => client.members('list'));
  if (options.json === true) {
    print(toJson(members));
    return exitCodes.ok;
  }
  const rows = members.map((m) => [m.id, m.role, m.peer, m.client]);
  print(table([['NODE', 'ROLE', 'PEER', 'CLIENT'], ...rows]));
  return exitCodes.ok;
}

/**
 * A change already in effect is answered OK by the cluster (so that a retry after a lost answer
 * succeeds): what the node held before the change says whether this call changed anything.
 */
function roleBefore(members: readonly MemberView[], node: NodeId): MemberView['role'] | null {
  return members.find((m) => m.id === node)?.role ?? null;
}

async function runAdd(node: NodeId, options: AddOptions): Promise<number> {
  const addresses = {
    node,
    ...(options.peer === undefined ? {} : { peer: options.peer }),
    ...(options.client === undefined ? {} : { client: options.client }),
  };
  const before = await withOperator(options, async (client) => {
    const members = await client.members('list');
    await client.members('addLearner', addresses);
    return roleBefore(members, node);
  });
  if (options.json === true) print(toJson({ added: node, role: before ?? 'learner', changed: before === null }));
  else if (before !== null) print(`${node} is already a ${before}: nothing changed`);
  else print(`added ${node} as a learner; promote it once it has caught up`);
  return exitCodes.ok;
}

async function runChange(change: 'promote' | 'remove', node: NodeId, options: ClusterOptions): Promise<number> {
  const before = await withOperator(options, async (client) => {
    const members = await client.members('list');
    await client.members(change, { node });
    return roleBefore(members, node);
  });
  const changed = change === 'promote' ? before !== 'voter' : before !== null;
  const done = change === 'promote' ? 'promoted' : 'removed';
  if (options.json === true) print(toJson({ [done]: node, changed }));
  else if (changed) print(`${done} ${node}`);
  else
    print(
      change === 'promote' ? `${node} is already a voter: nothing changed` : `${node} is not a member: nothing changed`,
    );
  return exitCodes.ok;
}

async function runTransfer(node: NodeId, options: ClusterOptions): Promise<number> {
  await withOperator(options, (client) => client.transferLeader(node));
  if (options.json === true) print(toJson({ transferTo: node }));
  else print(`asked the leader to hand over to ${node}`);
  return exitCodes.ok;
}

/** The membership changes that name just a node, with their help line. */
const memberChanges = [
  ['promote', 'make a caught-up learner a voter'],
  ['remove', 'remove a node from the cluster'],
] as const;

/** `members list|add|promote|remove` and `leader transfer`: one membership change at a time. */
export function registerMembersCommands(program: Command): void {
  const members = program
    .command('members')
    .description('list the members, or add a learner / promote / remove a node');
  clusterOptions(members.command('list').description('every member with its role and addresses'), true).action(
    action(runList),
  );
  clusterOptions(
    members
      .command('add')
      .description('add a node as a non-voting learner (start it with join: true in cluster.yml)')
      .argument('<node>', 'node id', nodeIdArgument)
      .option('--peer <host:port>', 'check: the node’s peer address in cluster.yml')
      .option('--client <host:port>', 'check: the node’s client address in cluster.yml'),
    true,
  ).action(action(runAdd));
  // promote and remove differ only in the change they ask for.
  for (const [change, description] of memberChanges) {
    clusterOptions(
      members.command(change).description(description).argument('<node>', 'node id', nodeIdArgument),
      true,
    ).action(action((node: NodeId, options: ClusterOptions) => runChange(change, node, options)));
  }
  const leader = program.command('leader').description('leadership operations');
  clusterOptions(
    leader
      .command('transfer')
      .description('hand leadership to NODE (a caught-up voter)')
      .argument('<node>', 'node id', nodeIdArgument),
    true,
  ).action(action(runTransfer));
}

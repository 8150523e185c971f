import type { Command } from 'commander';
import type { RaftlockClient } from '../client/client.js';
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

async function runAdd(node: NodeId, options: AddOptions): Promise<number> {
  const addresses = {
    node,
    ...(options.peer === undefined ? {} : { peer: options.peer }),
    ...(options.client === undefined ? {} : { client: options.client }),
  };
  await withOperator(options, (client) => client.members('addLearner', addresses));
  if (options.json === true) print(toJson({ added: node, role: 'learner' }));
  else print(`added ${node} as a learner; promote it once it has caught up`);
  return exitCodes.ok;
}

async function runChange(change: 'promote' | 'remove', node: NodeId, options: ClusterOptions): Promise<number> {
  await withOperator(options, (client) => client.members(change, { node }));
  const done = change === 'promote' ? 'promoted' : 'removed';
  print(options.json === true ? toJson({ [done]: node }) : `${done} ${node}`);
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

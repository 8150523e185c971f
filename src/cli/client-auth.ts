/**
 * `raftlock user …`, `raftlock role …` and `raftlock whoami`: users, roles and permissions,
 * managed by an admin (by default `root`, whose certificate `raftlock up` wrote).
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { Right } from '../statemachine/auth-types.js';
import { allRights } from '../statemachine/auth-types.js';
import { RaftlockClient } from '../client/client.js';
import type { ClusterOptions } from './client-common.js';
import { action, CliExit, clientOptions, clusterOptions, exitCodes, print, table, toJson } from './client-common.js';
import { CredentialError, readPasswordFile } from './client-security.js';

interface NewPasswordOptions extends ClusterOptions {
  /** The new user's password file (here not the caller's). */
  readonly passwordFile?: string;
  /** false with --no-password. */
  readonly password?: boolean;
}

/**
 * Runs one call on a client without a session. `callerPassword` false: this command's
 * `--password-file` is the new password, so the caller's comes from $RAFTLOCK_PASSWORD only.
 */
async function withAdmin<T>(
  options: ClusterOptions,
  run: (client: RaftlockClient) => Promise<T>,
  callerPassword = true,
): Promise<T> {
  const client = new RaftlockClient(await clientOptions(options, {}, callerPassword));
  try {
    return await run(client);
  } finally {
    client.abandon();
  }
}

function newPassword(file: string): string {
  try {
    return readPasswordFile(file);
  } catch (error: unknown) {
    if (error instanceof CredentialError) throw new CliExit(exitCodes.usage, error.message);
    throw error;
  }
}

function done(options: ClusterOptions, json: Record<string, unknown>, text: string): number {
  print(options.json === true ? toJson(json) : text);
  return exitCodes.ok;
}

async function userAdd(user: string, options: NewPasswordOptions): Promise<number> {
  if (options.password === false && options.passwordFile !== undefined) {
    throw new CliExit(exitCodes.usage, 'give either --password-file or --no-password, not both');
  }
  if (options.password !== false && options.passwordFile === undefined) {
    const how = "--password-file FILE ('-': standard input), or --no-password for certificates only";
    throw new CliExit(exitCodes.usage, `the new user needs a password: ${how}`);
  }
  const password = options.passwordFile === undefined ? null : newPassword(options.passwordFile);
  await withAdmin(options, (client) => client.users.add(user, { password }), false);
  const how = password === null ? 'certificate only' : 'with a password';
  return done(options, { added: user, password: password !== null }, `added user ${user} (${how})`);
}

async function userPasswd(user: string, options: NewPasswordOptions): Promise<number> {
  if (options.passwordFile === undefined) {
    throw new CliExit(exitCodes.usage, "the new password: --password-file FILE ('-': standard input)");
  }
  const password = newPassword(options.passwordFile);
  await withAdmin(options, (client) => client.users.passwd(user, password), false);
  return done(options, { passwordSet: user }, `set the password of ${user}`);
}

async function userList(options: ClusterOptions): Promise<number> {
  const users = await withAdmin(options, (client) => client.users.list());
  if (options.json === true) return done(options, { users }, '');
  const rows = users.map((u) => [u.name, u.roles.join(',') || '-', u.password ? 'yes' : 'no']);
  print(table([['USER', 'ROLES', 'PASSWORD'], ...rows]));
  return exitCodes.ok;
}

async function roleList(options: ClusterOptions): Promise<number> {
  const roles = await withAdmin(options, (client) => client.roles.list());
  if (options.json === true) return done(options, { roles }, '');
  const rows: string[][] = [['ROLE', 'PREFIX', 'RIGHTS']];
  for (const role of roles) {
    if (role.permissions.length === 0) rows.push([role.name, '-', '-']);
    for (const p of role.permissions) rows.push([role.name, JSON.stringify(p.prefix), p.rights.join(',')]);
  }
  print(table(rows));
  return exitCodes.ok;
}

async function whoami(options: ClusterOptions): Promise<number> {
  const me = await withAdmin(options, (client) => client.whoami());
  if (options.json === true) return done(options, { ...me }, '');
  if (me.principal === null) {
    print('nobody: the cluster is insecure (no authentication, no restrictions)');
    return exitCodes.ok;
  }
  const roles = me.roles.length === 0 ? 'no roles' : `roles ${me.roles.join(', ')}`;
  print(`${me.principal} (${roles}${me.admin ? '; admin' : ''})`);
  return exitCodes.ok;
}

/** `lock,read`: a comma-separated list of rights. */
export function rightsArgument(text: string): Right[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const known = (p: string): p is Right => (allRights as readonly string[]).includes(p);
  const unknown = parts.filter((p) => !known(p));
  if (parts.length === 0 || unknown.length > 0) {
    const got = unknown.length > 0 ? `unknown ${unknown.join(', ')}` : 'none';
    throw new InvalidArgumentError(`rights are a comma-separated list of ${allRights.join(', ')} (${got})`);
  }
  return parts.filter(known);
}

function registerUserCommands(program: Command): void {
  const user = program.command('user').description('add, delete, list users; set passwords; grant roles');
  clusterOptions(
    user
      .command('add')
      .description('add a user, with a password or for certificates only')
      .argument('<name>', 'user name')
      .option('--password-file <file>', "the new user's password ('-': standard input)")
      .option('--no-password', 'no password: the user authenticates with a certificate only'),
    true,
    { callerPasswordFile: false },
  ).action(action(userAdd));
  clusterOptions(
    user.command('delete').description('delete a user (its connections are closed)').argument('<name>', 'user name'),
    true,
  ).action(
    action(async (name: string, options: ClusterOptions) => {
      await withAdmin(options, (client) => client.users.delete(name));
      return done(options, { deleted: name }, `deleted user ${name}`);
    }),
  );
  clusterOptions(
    user
      .command('passwd')
      .description("set a user's password (your own, or anyone's as an admin)")
      .argument('<name>', 'user name')
      .option('--password-file <file>', "the new password ('-': standard input)"),
    true,
    { callerPasswordFile: false },
  ).action(action(userPasswd));
  for (const [verb, description] of [
    ['grant', 'give a user a role'],
    ['revoke', 'take a role from a user'],
  ] as const) {
    clusterOptions(
      user.command(verb).description(description).argument('<name>', 'user name').argument('<role>', 'role name'),
      true,
    ).action(
      action(async (name: string, role: string, options: ClusterOptions) => {
        await withAdmin(options, (client) =>
          verb === 'grant' ? client.users.grant(name, role) : client.users.revoke(name, role),
        );
        const text = verb === 'grant' ? `granted role ${role} to ${name}` : `revoked role ${role} from ${name}`;
        return done(options, { [verb === 'grant' ? 'granted' : 'revoked']: role, user: name }, text);
      }),
    );
  }
  clusterOptions(user.command('list').description('every user, its roles, whether it has a password'), true).action(
    action(userList),
  );
}

function registerRoleCommands(program: Command): void {
  const role = program.command('role').description('add, delete, list roles; grant rights on name prefixes');
  for (const [verb, description] of [
    ['add', 'add a role (no rights yet)'],
    ['delete', 'delete a role (every user loses it)'],
  ] as const) {
    clusterOptions(role.command(verb).description(description).argument('<role>', 'role name'), true).action(
      action(async (name: string, options: ClusterOptions) => {
        await withAdmin(options, (client) => (verb === 'add' ? client.roles.add(name) : client.roles.delete(name)));
        const past = verb === 'add' ? 'added' : 'deleted';
        return done(options, { [past]: name }, `${past} role ${name}`);
      }),
    );
  }
  clusterOptions(
    role
      .command('grant')
      .description("grant rights on every name starting with PREFIX ('' for all names)")
      .argument('<role>', 'role name')
      .argument('<prefix>', 'name prefix')
      .argument('<rights>', `comma-separated: ${allRights.join(',')}`, rightsArgument),
    true,
  ).action(
    action(async (name: string, prefix: string, rights: Right[], options: ClusterOptions) => {
      await withAdmin(options, (client) => client.roles.grant(name, prefix, rights));
      const text = `granted ${rights.join(',')} on ${JSON.stringify(prefix)} to role ${name}`;
      return done(options, { role: name, prefix, rights }, text);
    }),
  );
  clusterOptions(
    role
      .command('revoke')
      .description('remove the role’s permission on exactly PREFIX')
      .argument('<role>', 'role name')
      .argument('<prefix>', 'name prefix'),
    true,
  ).action(
    action(async (name: string, prefix: string, options: ClusterOptions) => {
      await withAdmin(options, (client) => client.roles.revoke(name, prefix));
      return done(options, { role: name, revoked: prefix }, `revoked ${JSON.stringify(prefix)} from role ${name}`);
    }),
  );
  clusterOptions(role.command('list').description('every role and its rights per prefix'), true).action(
    action(roleList),
  );
}

/** user, role and whoami. */
export function registerAuthCommands(program: Command): void {
  registerUserCommands(program);
  registerRoleCommands(program);
  clusterOptions(
    program.command('whoami').description('the user the cluster authenticates you as, and its roles'),
    true,
  ).action(action(whoami));
}

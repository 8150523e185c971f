// The configuration of one server of the benchmark's local ZooKeeper ensemble. Durability is
// ZooKeeper's default (forceSync: every transaction log write is fsynced before it is acknowledged),
// as raftlock's and etcd's are in the same run; only what a local benchmark needs is changed: own
// ports on 127.0.0.1, no limit on connections per address (every benchmark client comes from
// 127.0.0.1, and ZooKeeper allows 60 by default), no embedded admin web server (its fixed port 8080
// would collide between the three servers), and the one four-letter word the bench
// asks (`srvr`: is the server serving, and as leader or follower).

/** One server of the ensemble: its id (ZooKeeper's myid) and its three ports. */
export interface ZooKeeperServer {
  readonly id: number;
  readonly clientPort: number;
  /** Followers connect to the leader on this port. */
  readonly quorumPort: number;
  readonly electionPort: number;
}

export interface ZooCfgOptions {
  readonly dataDir: string;
  readonly self: ZooKeeperServer;
  readonly ensemble: readonly ZooKeeperServer[];
  /** ms; ZooKeeper's default is 2000 (session timeouts are 2 to 20 ticks). */
  readonly tickTimeMs?: number;
}

/** The text of a zoo.cfg for `self` in `ensemble`. */
export function zooCfg(options: ZooCfgOptions): string {
  const { self, ensemble } = options;
  if (!ensemble.some((s) => s.id === self.id))
    throw new RangeError(`zoo.cfg: server ${self.id} is not in the ensemble (${ensemble.map((s) => s.id).join(', ')})`);
  if (/[\r\n]/.test(options.dataDir))
    throw new RangeError(`zoo.cfg: dataDir ${JSON.stringify(options.dataDir)} has a line break`);
  return [
    `tickTime=${options.tickTimeMs ?? 2000}`,
    'initLimit=10',
    'syncLimit=5',
    `dataDir=${options.dataDir}`,
    'clientPortAddress=127.0.0.1',
    `clientPort=${self.clientPort}`,
    'maxClientCnxns=0',
    'admin.enableServer=false',
    '4lw.commands.whitelist=srvr',
    ...ensemble.map((s) => `server.${s.id}=127.0.0.1:${s.quorumPort}:${s.electionPort}`),
    '',
  ].join('\n');
}

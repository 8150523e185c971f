// ZooKeeper's four-letter words: a command written on a client port, answered with text and a
// closed connection. The bench asks `srvr`, which says whether
// a server is serving and in which role (leader, follower); see zoo-cfg.ts for the whitelist.
import { connect } from 'node:net';

/** Sends `word` to 127.0.0.1:`port` and resolves with the whole answer; rejects after `timeoutMs`. */
export function fourLetterWord(port: number, word: 'srvr', timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(new Error(`ZooKeeper on port ${port}: no answer to ${word} in ${timeoutMs}ms`)),
    );
    socket.on('connect', () => socket.end(word));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', (hadError) => {
      if (!hadError) resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** A server's role as `srvr` reports it; null while it is not serving (no quorum yet, or electing). */
export type ZooKeeperMode = 'leader' | 'follower' | 'observer' | 'standalone';

/** The role in a `srvr` answer, or null when the server says it is not serving. */
export function parseSrvrMode(answer: string): ZooKeeperMode | null {
  const match = /^Mode: (leader|follower|observer|standalone)\s*$/m.exec(answer);
  return match === null ? null : (match[1] as ZooKeeperMode);
}

/**
 * Binding a listening socket: resolves once `server` listens on `host:port` (port 0 picks a free
 * one), rejects with the bind error (EADDRINUSE, EACCES, ...) so a caller can say which address.
 * The one-shot error listener is removed once listening: later errors belong to the server's owner.
 */
import type { Server } from 'node:net';

export function listenOn(server: Server, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

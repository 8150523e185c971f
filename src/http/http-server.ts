/**
 * A node's HTTP server (cluster.yml `http: HOST:PORT`): HTTPS with the node's TLS material on a
 * secure node, plain HTTP on an insecure one, serving the app of app.ts.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HostPort } from '../config/cluster-config.js';
import type { HttpApp, HttpOptions } from './app.js';
import { createHttpApp } from './app.js';
import type { NodeGateway } from './gateway.js';
import type { HttpsServer } from './https-server.js';
import { createHttpsServer } from './https-server.js';

export interface HttpServerOptions {
  readonly gateway: NodeGateway;
  /** Port 0 picks a free port (see `address`). */
  readonly listen: HostPort;
  readonly http?: HttpOptions;
}

export interface HttpServer {
  readonly address: HostPort;
  readonly app: HttpApp;
  /** Ends streams and long polls (503), finishes other requests, closes. */
  close(): Promise<void>;
}

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const { gateway } = options;
  const material = gateway.tls;
  let secure: HttpsServer | null = null;
  const app =
    material === null
      ? createHttpApp(gateway, options.http)
      : createHttpApp(gateway, options.http, {
          factory: (handler) => {
            secure = createHttpsServer(material, gateway.log, handler);
            // fastify types its default (node:http) server; an https.Server serves the same API.
            return secure.server as unknown as Server;
          },
          certificateOf: (socket) => secure?.certificateOf(socket) ?? null,
        });
  await app.app.listen({ host: options.listen.host, port: options.listen.port });
  const bound = app.app.server.address() as AddressInfo;
  return {
    address: { host: options.listen.host, port: bound.port },
    app,
    close: () => app.close(),
  };
}

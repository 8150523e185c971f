/**
 * Serves the dashboard (docs/http.md, "Dashboard"): the static page of src/http/dashboard/ at `/`
 * and the chart library from the installed `uplot` package under `/assets/`, so a node with no
 * internet serves everything the page needs. The files are read once when the plugin registers
 * and answered from memory with an ETag; they carry no cluster data, so they need no
 * authentication (the page then logs in and reads the API like any client).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** One file the dashboard serves, held in memory. */
export interface DashboardAsset {
  readonly path: string;
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

const contentTypes: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/**
 * The page runs only its own scripts and styles (no inline code, nothing from elsewhere), talks
 * only to this node, and may not be framed; `style-src` allows the style properties the chart
 * library sets from script.
 */
const securityHeaders: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/**
 * Where the page's files are: beside this module when it runs from src/ (tsx, tests), or in the
 * package's src/http/dashboard/ when it runs compiled from dist/src/http/.
 */
async function dashboardDirectory(): Promise<string> {
  const candidates = [
    new URL('./dashboard/', import.meta.url),
    new URL('../../../src/http/dashboard/', import.meta.url),
  ];
  for (const candidate of candidates) {
    const dir = fileURLToPath(candidate);
    try {
      const names = await readdir(dir);
      if (names.includes('index.html')) return dir;
    } catch {
      // Not here: try the next place.
    }
  }
  const tried = candidates.map((c) => fileURLToPath(c)).join(', ');
  throw new Error(`dashboard files not found (looked for index.html in ${tried})`);
}

function asset(path: string, body: Buffer, contentType: string): DashboardAsset {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
  return { path, body, contentType, etag };
}

/** Every file the dashboard serves, by URL path: the page's own files and uPlot's. */
export async function loadDashboardAssets(): Promise<ReadonlyMap<string, DashboardAsset>> {
  const dir = await dashboardDirectory();
  const assets = new Map<string, DashboardAsset>();
  for (const name of (await readdir(dir)).sort()) {
    const contentType = contentTypes[extname(name)];
    if (contentType === undefined) continue;
    const body = await readFile(`${dir}${name}`);
    const path = name === 'index.html' ? '/' : `/${name}`;
    assets.set(path, asset(path, body, contentType));
  }
  const require = createRequire(import.meta.url);
  // The minified build (about a third of the ES module's size) defines the global the page uses.
  const uplotJs = require.resolve('uplot/dist/uPlot.iife.min.js');
  const uplotCss = require.resolve('uplot/dist/uPlot.min.css');
  assets.set('/assets/uplot.js', asset('/assets/uplot.js', await readFile(uplotJs), contentTypes['.js'] ?? ''));
  assets.set('/assets/uplot.css', asset('/assets/uplot.css', await readFile(uplotCss), contentTypes['.css'] ?? ''));
  return assets;
}

function answer(file: DashboardAsset, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  reply.headers(securityHeaders);
  // Revalidated on every load (a node upgrade changes the files), answered 304 when unchanged.
  reply.header('cache-control', 'no-cache');
  reply.header('etag', file.etag);
  if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
  return reply.type(file.contentType).send(file.body);
}

/**
 * Registers `GET /` (the page), `GET /<file>` for its scripts and stylesheet and `GET
 * /assets/uplot.js|css`. Routes carry `config: { dashboard: true }` so an authentication hook can
 * recognise them as public. `/index.html` redirects to `/`.
 */
export async function registerDashboard(app: FastifyInstance): Promise<void> {
  const assets = await loadDashboardAssets();
  for (const file of assets.values()) {
    app.get(file.path, { config: { dashboard: true } }, (request, reply) => answer(file, request, reply));
  }
  app.get('/index.html', { config: { dashboard: true } }, (_request, reply) => reply.redirect('/', 301));
}

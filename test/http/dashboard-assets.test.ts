// The dashboard plugin on its own: it serves the page, its modules and the chart library from the
// package (no network needed), with content types, a strict content security policy and ETags,
// and nothing else from the directory. The browser test (dashboard.test.ts) runs the page itself.
import Fastify from 'fastify';
import t from 'tap';
import { loadDashboardAssets, registerDashboard } from '../../src/http/dashboard.js';

t.test('the page, its modules, its stylesheet and uPlot are served with their types and a strict CSP', async (t) => {
  const app = Fastify();
  t.teardown(() => app.close());
  await registerDashboard(app);
  const page = await app.inject({ method: 'GET', url: '/' });
  t.equal(page.statusCode, 200);
  t.match(page.headers['content-type'], /^text\/html/);
  t.match(page.body, /<script type="module" src="app.js">/);
  const csp = String(page.headers['content-security-policy']);
  t.match(csp, /script-src 'self'/, 'only its own scripts');
  t.match(csp, /connect-src 'self'/, 'talks only to the node that served it');
  t.match(csp, /frame-ancestors 'none'/, 'may not be framed');
  t.equal(page.headers['x-content-type-options'], 'nosniff');

  // Every module the page imports is served: follow the import graph from app.js.
  const seen = new Set<string>();
  const queue = ['app.js'];
  while (queue.length > 0) {
    const file = queue.shift() ?? '';
    if (seen.has(file)) continue;
    seen.add(file);
    const reply = await app.inject({ method: 'GET', url: `/${file}` });
    t.equal(reply.statusCode, 200, `/${file} is served`);
    t.match(reply.headers['content-type'], /^text\/javascript/);
    for (const m of reply.body.matchAll(/from '\.\/([a-z-]+\.js)'/g)) queue.push(m[1] ?? '');
  }
  t.ok(seen.has('api.js') && seen.has('waitgraph.js'), `the module graph was followed (${[...seen].join(', ')})`);
  const preloaded = [...page.body.matchAll(/<link rel="modulepreload" href="([a-z-]+\.js)"\s*\/?>/g)]
    .map((m) => m[1])
    .sort();
  t.same(preloaded, [...seen].filter((f) => f !== 'app.js').sort(), 'every imported module is preloaded by the page');

  const uplot = await app.inject({ method: 'GET', url: '/assets/uplot.js' });
  t.equal(uplot.statusCode, 200);
  t.match(uplot.body, /uPlot/, 'uPlot itself, from node_modules');
  const css = await app.inject({ method: 'GET', url: '/assets/uplot.css' });
  t.match(css.headers['content-type'], /^text\/css/);
  t.equal((await app.inject({ method: 'GET', url: '/style.css' })).statusCode, 200);
});

t.test('an unchanged file is answered 304 to its ETag; unknown paths are not found', async (t) => {
  const app = Fastify();
  t.teardown(() => app.close());
  await registerDashboard(app);
  const first = await app.inject({ method: 'GET', url: '/app.js' });
  const etag = String(first.headers['etag']);
  t.match(etag, /^"[A-Za-z0-9_-]+"$/);
  t.equal(first.headers['cache-control'], 'no-cache', 'revalidated on each load, so an upgrade shows at once');
  const again = await app.inject({ method: 'GET', url: '/app.js', headers: { 'if-none-match': etag } });
  t.equal(again.statusCode, 304);
  t.equal(again.body, '');
  t.equal((await app.inject({ method: 'GET', url: '/../package.json' })).statusCode, 404);
  t.equal((await app.inject({ method: 'GET', url: '/dashboard.ts' })).statusCode, 404);
  const index = await app.inject({ method: 'GET', url: '/index.html' });
  t.equal(index.statusCode, 301);
  t.equal(index.headers['location'], '/');
});

t.test('the asset list is exactly the page files and uPlot', async (t) => {
  const assets = await loadDashboardAssets();
  const paths = [...assets.keys()].sort();
  t.ok(paths.includes('/') && paths.includes('/app.js') && paths.includes('/style.css'));
  t.ok(
    paths.every((p) => p === '/' || /^\/(assets\/uplot\.(js|css)|[a-z-]+\.(js|css))$/.test(p)),
    paths.join(' '),
  );
});

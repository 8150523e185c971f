// `--log-format json`: one JSON object per line with time, level, node, msg and the fields.
import t from 'tap';
import { createLogger } from '../../src/util/logger.js';

void t.test('json log lines', async (t) => {
  const lines: string[] = [];
  const root = createLogger({ level: 'info', format: 'json', sink: (line) => lines.push(line) });
  const node = root.child('n1');
  node.info('became leader', { term: 3, note: 'a b', msg: 'field named msg', gone: null });
  node.debug('not at info');
  root.warn('plain');
  t.equal(lines.length, 2);
  const first = JSON.parse(lines[0]!) as Record<string, unknown>;
  t.match(first, {
    level: 'info',
    node: 'n1',
    msg: 'became leader',
    term: 3,
    note: 'a b',
    gone: null,
    'field.msg': 'field named msg',
  });
  t.ok(!Number.isNaN(Date.parse(String(first['time']))), 'an ISO time');
  t.same(Object.keys(JSON.parse(lines[1]!) as object), ['time', 'level', 'msg'], 'no node when the logger has no name');
  const text: string[] = [];
  createLogger({ level: 'info', sink: (line) => text.push(line) })
    .child('n2')
    .info('x', { a: 1 });
  t.match(text[0], /^\S+ info {2}n2 x a=1$/, 'text stays the default');
});

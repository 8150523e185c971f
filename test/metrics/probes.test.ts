// The readiness and health rules (docs/metrics.md): ready only as a running member with a known
// leader and applied within the bound of the commit; unhealthy only after a fatal stop.
import t from 'tap';
import { health, readiness } from '../../src/metrics/probes.js';

const base = { nodeId: 'n1', leader: 'n2', commit: 100, applied: 100, voters: ['n1', 'n2', 'n3'], learners: [] };

void t.test('readiness', async (t) => {
  t.match(readiness(base), { ready: true, reason: /n1 is a voter, leader n2, 0 committed/ });
  t.match(readiness({ ...base, voters: ['n2', 'n3'], learners: ['n1'] }), { ready: true, reason: /learner/ });
  t.match(readiness({ ...base, voters: ['n2', 'n3'] }), {
    ready: false,
    reason: /n1 is not a member .*members: n2, n3/,
  });
  t.match(readiness({ ...base, voters: [], learners: [] }), { ready: false, reason: /no members known yet/ });
  t.match(readiness({ ...base, leader: null }), { ready: false, reason: /knows no leader/ });
  t.match(readiness({ ...base, applied: 0, commit: 1000 }), { ready: true }, 'exactly the bound behind is still ready');
  t.match(readiness({ ...base, applied: 0, commit: 1001 }), {
    ready: false,
    reason: /applied 0 of 1001 committed entries: 1001 behind, more than 1000/,
  });
  t.match(readiness({ ...base, applied: 90 }, 5), { ready: false, reason: /10 behind, more than 5/ });
  t.match(readiness({ ...base, stopped: true }), { ready: false, reason: /has stopped/ });
});

void t.test('health', async (t) => {
  t.same(health({ nodeId: 'n1', fatal: null }), { healthy: true, reason: 'node n1 is serving' });
  t.same(health({ nodeId: 'n1', fatal: new Error('disk gone') }), {
    healthy: false,
    reason: 'node n1 stopped after a fatal error: disk gone',
  });
});

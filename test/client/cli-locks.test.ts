// How `raftlock locks` shows a holder: session:token; a run of turns as session:first-last, the
// tokens its grant reserved (docs/cli.md, `locks`); a reader marked shared.
import t from 'tap';
import { holderText } from '../../src/cli/client-locks.js';
import { fencingToken, sessionId } from '../../src/statemachine/ids.js';

t.test('a holder as the locks table shows it', async (t) => {
  const session = sessionId(12);
  t.equal(holderText({ session, token: fencingToken(40), mode: 'exclusive' }), '12:40');
  t.equal(
    holderText({ session, token: fencingToken(40), mode: 'exclusive', lastToken: fencingToken(43) }),
    '12:40-43',
    'a run of four turns',
  );
  t.equal(holderText({ session, token: fencingToken(40), mode: 'shared' }), '12:40(shared)');
});

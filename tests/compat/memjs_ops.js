'use strict';
// npm memjs (a pure-JS memcached binary-protocol client), unmodified, against sluiced: SASL
// PLAIN, every key on vbucket 0 (memcached routing, no HELLO), and set/get/add/replace/delete/
// append/increment/decrement/touch/stats, every answer checked.
//   SLUICE_PORT, SLUICE_USER, SLUICE_PASSWORD; SLUICE_DOCS (default 500).
const memjs = require('memjs');
const { env, check, finish, fatal } = require('./lib');

const DOCS = Number(process.env.SLUICE_DOCS || 500);

async function main() {
  const mc = memjs.Client.create(`${env.user}:${env.password}@${env.host}:${env.port}`,
                                 { retries: 0, logger: { log: () => {} } });
  const run = `${process.pid}`;
  const key = (i) => `memjs-${run}-${i}`;

  for (let i = 0; i < DOCS; i++) {
    check(await mc.set(key(i), `value-${i}`, { expires: 0 }) === true, `set ${i}`);
    const got = await mc.get(key(i));
    check(got.value && got.value.toString() === `value-${i}`, `get ${i}`);
    check(await mc.add(key(i), 'other') === false, `add ${i} existing`);
    check(await mc.replace(key(i), `replaced-${i}`) === true, `replace ${i}`);
    check(await mc.append(key(i), '-tail') === true, `append ${i}`);
    // memjs 1.3.2's prepend() sends APPEND (opcode 0x0e, a client bug): not used here.
    const again = await mc.get(key(i));
    check(again.value && again.value.toString() === `replaced-${i}-tail`,
          `get ${i} after edits: ${again.value}`);
    check(await mc.touch(key(i), 3600) === true, `touch ${i}`);
  }
  check(await mc.add(key('new'), 'fresh') === true, 'add new key');
  check(await mc.replace(key('absent'), 'x') === false, 'replace missing key');
  check(await mc.touch(key('absent'), 10) === false, 'touch missing key');
  const miss = await mc.get(key('absent'));
  check(miss.value === null, 'get missing key');

  // Counters: created with the initial value, then moved by the delta.
  const c = key('counter');
  let r = await mc.increment(c, 1, { initial: 10 });
  check(r.success && r.value === 10, `increment creates: ${r.value}`);
  let expected = 10;
  for (let i = 0; i < DOCS; i++) {
    if (i % 4 === 0) {
      r = await mc.decrement(c, 3, {});
      expected = Math.max(0, expected - 3);
    } else {
      r = await mc.increment(c, 2, {});
      expected += 2;
    }
    check(r.success && r.value === expected, `counter ${i}: ${r.value} == ${expected}`);
  }
  const text = await mc.get(c);
  check(text.value.toString() === String(expected), 'counter reads back as text');

  for (let i = 0; i < DOCS; i++) {
    check(await mc.delete(key(i)) === true, `delete ${i}`);
    const gone = await mc.get(key(i));
    check(gone.value === null, `get ${i} after delete`);
    check(await mc.delete(key(i)) === false, `delete ${i} again`);
  }

  const stats = await new Promise((resolve, reject) => {
    mc.stats((err, server, s) => (err ? reject(err) : resolve(s)));
  });
  check(stats && Number(stats.curr_connections) >= 1, 'stats: curr_connections');
  check(stats && stats.pid !== undefined && stats.uptime !== undefined, 'stats: pid, uptime');
  mc.close();
  finish('memjs_ops');
}

main().catch(fatal);

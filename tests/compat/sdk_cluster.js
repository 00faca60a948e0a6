'use strict';
// The official Couchbase Node.js SDK against a static cluster of two sluiced nodes "a" and "b"
// (one cluster file, --node-id/--cluster-map), bootstrapped from node a only:
//   1. it learns both nodes from the cluster config and routes every key to its active: every
//      write and read succeeds, and both nodes hold some of the keys;
//   2. every vbucket active on a is moved to b (`sluice vbucket set`: dead on a, then active with
//      a topology on b), as a failover would; the SDK follows the new config (pushed, or from a
//      NOT_MY_VBUCKET body) and every write and read succeeds again, with no error beyond the SDK's
//      own retries; b then holds every key.
//   SLUICE_PORTS=A,B  SLUICE_CLI=path of the sluice binary  SLUICE_MOVE=vb,vb,... (a's actives)
//   SLUICE_USER, SLUICE_PASSWORD, SLUICE_BUCKET; SLUICE_DOCS (default 200).
const couchbase = require('couchbase');
const { execFileSync } = require('child_process');
const { env, check, finish, fatal } = require('./lib');

const ports = (process.env.SLUICE_PORTS || '').split(',').map(Number);
const cli = process.env.SLUICE_CLI;
const move = (process.env.SLUICE_MOVE || '').split(',').filter(Boolean);
const DOCS = Number(process.env.SLUICE_DOCS || 200);

function sluice(args) {
  return execFileSync(cli, [...args, '--user', env.user, '--password', env.password, '--timeout',
    '30'], { encoding: 'utf8' });
}

function items(port) {
  return Number(JSON.parse(sluice(['stats', '--port', String(port), '--json'])).curr_items);
}

async function writeAndReadAll(coll, round) {
  for (let i = 0; i < DOCS; i++) {
    const key = `cluster-${i}`;
    try {
      await coll.upsert(key, { i, round });
      const got = await coll.get(key);
      check(got.content.i === i && got.content.round === round, `round ${round}: ${key} read back`);
    } catch (e) {
      check(false, `round ${round}: ${key}: ${e.constructor.name}: ${e.message}`);
    }
  }
}

(async () => {
  check(ports.length === 2 && cli && move.length > 0, 'SLUICE_PORTS, SLUICE_CLI and SLUICE_MOVE set');
  const cluster = await couchbase.connect(`couchbase://127.0.0.1:${ports[0]}`,
    { username: env.user, password: env.password });
  const coll = cluster.bucket(env.bucket).defaultCollection();

  await writeAndReadAll(coll, 1);
  const onA = items(ports[0]);
  const onB = items(ports[1]);
  check(onA > 0 && onB > 0 && onA + onB === DOCS, `keys on both nodes: ${onA} + ${onB}`);

  for (const vb of move) {
    sluice(['vbucket', 'set', vb, 'dead', '--port', String(ports[0])]);
    sluice(['vbucket', 'set', vb, 'active', '--topology', '[["b",null]]', '--port',
      String(ports[1])]);
  }
  await writeAndReadAll(coll, 2);
  check(items(ports[1]) === DOCS, `every key on b after the move: ${items(ports[1])}`);
  await cluster.close();
  finish('sdk_cluster');
})().catch(fatal);

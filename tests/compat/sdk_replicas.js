'use strict';
// The official Couchbase Node.js SDK against a static cluster of three sluiced nodes "a", "b" and
// "c" with two replicas (one cluster file, --node-id/--cluster-map), bootstrapped from node a only:
//   1. it learns every node and routes every key to its active: writes (plain and at every
//      durability level) and reads succeed;
//   2. the replicas receive every write over the nodes' own replication: getAllReplicas answers
//      the active and both replicas with the written content (polled: replication is
//      asynchronous), getAnyReplica answers the content;
//   3. node c is killed (SIGKILL); each of its active vbuckets is promoted on its first replica
//      (`sluice vbucket set VB active --topology`), as a failover would (with a chain of the new
//      active alone: in a static cluster nothing points the other replica at it); the SDK follows the new
//      config and every write and read succeeds again, with no error beyond the SDK's own retries,
//      and every key written before the kill is still there.
//   SLUICE_PORTS=A,B,C  SLUICE_CLI=path of the sluice binary  SLUICE_KILL_PID=pid of c
//   SLUICE_PROMOTE=vb:port:topology;... (c's actives: where to promote each, and its new chain)
//   SLUICE_USER, SLUICE_PASSWORD, SLUICE_BUCKET; SLUICE_DOCS (default 100).
const couchbase = require('couchbase');
const { execFileSync } = require('child_process');
const { env, check, finish, fatal } = require('./lib');

const ports = (process.env.SLUICE_PORTS || '').split(',').map(Number);
const cli = process.env.SLUICE_CLI;
const killPid = Number(process.env.SLUICE_KILL_PID || 0);
const promote = (process.env.SLUICE_PROMOTE || '').split(';').filter(Boolean).map((p) => {
  const [vb, port, topology] = p.split(':');
  return { vb, port, topology };
});
const DOCS = Number(process.env.SLUICE_DOCS || 100);
const LEVELS = [
  couchbase.DurabilityLevel.Majority,
  couchbase.DurabilityLevel.MajorityAndPersistOnMaster,
  couchbase.DurabilityLevel.PersistToMajority,
];

function sluice(args) {
  return execFileSync(cli, [...args, '--user', env.user, '--password', env.password, '--timeout',
    '30'], { encoding: 'utf8' });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function writeAndReadAll(coll, round) {
  for (let i = 0; i < DOCS; i++) {
    const key = `replicas-${i}`;
    try {
      const options = i < LEVELS.length ? { durabilityLevel: LEVELS[i] } : {};
      await coll.upsert(key, { i, round }, options);
      const got = await coll.get(key);
      check(got.content.i === i && got.content.round === round, `round ${round}: ${key} read back`);
    } catch (e) {
      check(false, `round ${round}: ${key}: ${e.constructor.name}: ${e.message}`);
    }
  }
}

// Every copy of `key` (the active and both replicas) holds round `round`, within 20 s.
async function replicated(coll, key, round) {
  let last = '';
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      const all = await coll.getAllReplicas(key);
      last = JSON.stringify(all.map((r) => [r.isReplica, r.content]));
      if (all.length === 3 && all.filter((r) => r.isReplica).length === 2 &&
          all.every((r) => r.content.round === round)) {
        return true;
      }
    } catch (e) {
      last = `${e.constructor.name}: ${e.message}`;
    }
    await sleep(100);
  }
  return check(false, `${key}: getAllReplicas never showed 3 copies of round ${round}: ${last}`);
}

(async () => {
  check(ports.length === 3 && cli && killPid > 0 && promote.length > 0,
    'SLUICE_PORTS, SLUICE_CLI, SLUICE_KILL_PID and SLUICE_PROMOTE set');
  const cluster = await couchbase.connect(`couchbase://127.0.0.1:${ports[0]}`,
    { username: env.user, password: env.password });
  const coll = cluster.bucket(env.bucket).defaultCollection();

  await writeAndReadAll(coll, 1);
  let copies = 0;
  for (let i = 0; i < DOCS; i++) {
    const key = `replicas-${i}`;
    if (await replicated(coll, key, 1)) copies++;
    const any = await coll.getAnyReplica(key);
    check(any.content.i === i && any.content.round === 1, `${key}: getAnyReplica`);
  }
  check(copies === DOCS, `every key on its two replicas: ${copies} of ${DOCS}`);

  process.kill(killPid, 'SIGKILL');
  for (const p of promote) {
    sluice(['vbucket', 'set', p.vb, 'active', '--topology', p.topology, '--port', p.port]);
  }
  for (let i = 0; i < DOCS; i++) {
    const key = `replicas-${i}`;
    try {
      const got = await coll.get(key);
      check(got.content.i === i && got.content.round === 1, `after the kill: ${key} kept`);
    } catch (e) {
      check(false, `after the kill: ${key}: ${e.constructor.name}: ${e.message}`);
    }
  }
  await writeAndReadAll(coll, 2);
  await cluster.close();
  finish('sdk_replicas');
})().catch(fatal);

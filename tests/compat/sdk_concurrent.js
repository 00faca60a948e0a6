'use strict';
// 32 concurrent Couchbase Node.js SDK clients (each its own cluster connection: 64 TCP
// connections to sluiced) doing mixed KV traffic at once, each checking every answer: their own
// documents (insert/get/replace with CAS/upsert/remove), one shared counter all of them
// increment, and durable writes. At the end the shared counter must equal the sum of the
// increments and every client's surviving documents must read back intact.
//   SLUICE_PORT, SLUICE_USER, SLUICE_PASSWORD, SLUICE_BUCKET; SLUICE_CLIENTS (32),
//   SLUICE_OPS (per client, 150).
const couchbase = require('couchbase');
const { env, check, expectError, finish, fatal } = require('./lib');

const CLIENTS = Number(process.env.SLUICE_CLIENTS || 32);
const OPS = Number(process.env.SLUICE_OPS || 150);
const run = `${process.pid}`;
const counterKey = `conc-${run}-counter`;

async function client(id) {
  const cluster = await couchbase.connect(`couchbase://${env.host}:${env.port}`, {
    username: env.user,
    password: env.password,
  });
  const coll = cluster.bucket(env.bucket).defaultCollection();
  const key = (i) => `conc-${run}-${id}-${i}`;
  let increments = 0;
  for (let i = 0; i < OPS; i++) {
    const doc = { client: id, i, pad: 'x'.repeat((i * 7) % 200) };
    const ins = await coll.insert(key(i), doc);
    const got = await coll.get(key(i));
    check(JSON.stringify(got.content) === JSON.stringify(doc), `client ${id} get ${i}`);
    check(String(got.cas) === String(ins.cas), `client ${id} cas ${i}`);
    const rep = await coll.replace(key(i), { ...doc, v: 2 }, { cas: got.cas });
    await expectError(() => coll.replace(key(i), doc, { cas: got.cas }),
                      couchbase.CasMismatchError, `client ${id} stale replace ${i}`);
    check(String(rep.cas) !== String(got.cas), `client ${id} replace ${i} cas`);
    const inc = await coll.binary().increment(counterKey, 1, { initial: 1 });
    check(Number(inc.value) >= 1, `client ${id} counter ${i}`);
    increments++;
    if (i % 10 === 0) {
      await coll.upsert(key(i), { ...doc, v: 3 },
                        { durabilityLevel: couchbase.DurabilityLevel.PersistToMajority });
    }
    if (i % 5 === 4) {
      await coll.remove(key(i));
      check((await coll.exists(key(i))).exists === false, `client ${id} removed ${i}`);
    }
  }
  for (let i = 0; i < OPS; i++) {
    if (i % 5 === 4) continue;
    const got = await coll.get(key(i));
    check(got.content.client === id && got.content.i === i &&
          got.content.v === (i % 10 === 0 ? 3 : 2), `client ${id} final ${i}`);
  }
  await cluster.close();
  return increments;
}

async function main() {
  const results = await Promise.all(Array.from({ length: CLIENTS }, (_, id) => client(id)));
  const total = results.reduce((a, b) => a + b, 0);
  const cluster = await couchbase.connect(`couchbase://${env.host}:${env.port}`, {
    username: env.user,
    password: env.password,
  });
  const coll = cluster.bucket(env.bucket).defaultCollection();
  const counter = await coll.get(counterKey);
  // The first increment creates the counter at its initial value 1, each later one adds 1.
  check(Number(counter.content) === total, `shared counter ${counter.content} == ${total}`);
  await cluster.close();
  finish('sdk_concurrent');
}

main().catch(fatal);

'use strict';
// The official Couchbase Node.js SDK (npm couchbase 4.x), unmodified, against sluiced: default
// connection string couchbase://HOST:PORT and a password authenticator (SCRAM-SHA512, HELLO,
// error map, SELECT_BUCKET, config polling), then thousands of KV operations on the default
// collection, every answer checked: insert/upsert/replace (CAS and CAS mismatch)/get/exists
// (GET_META)/remove/touch/getAndTouch/binary increment+decrement/lookupIn (SUBDOC_MULTI_LOOKUP),
// mutateIn (SUBDOC_MULTI_MUTATION) on the body and on xattrs (xattr: true, the ${Mutation.CAS}
// macro), lookupIn of xattrs and of the virtual $document, get withExpiry ($document.exptime),
// mutation tokens (uuid stable and seqno rising per vbucket), and durable writes at every level;
// after a persistToMajority or majorityAndPersistActive ack, the vbucket's last_persisted_seqno
// (read over memcached STATS with memjs) is at least the write's seqno.
//   SLUICE_PORT, SLUICE_USER, SLUICE_PASSWORD, SLUICE_BUCKET; SLUICE_DOCS (default 400).
const couchbase = require('couchbase');
const memjs = require('memjs');
const { env, check, expectError, finish, fatal } = require('./lib');

const DOCS = Number(process.env.SLUICE_DOCS || 400);
const tokens = new Map();  // partition -> {uuid, seqno}

function checkToken(result, what) {
  const t = result && result.token ? JSON.parse(JSON.stringify(result.token)) : null;
  if (!check(t !== null && t.partition_uuid !== undefined, `${what}: mutation token`)) return null;
  const seqno = BigInt(t.sequence_number);
  const prev = tokens.get(t.partition_id);
  check(BigInt(t.partition_uuid) !== 0n, `${what}: token uuid non-zero`);
  if (prev) {
    check(prev.uuid === t.partition_uuid, `${what}: vb ${t.partition_id} uuid stable`);
    check(seqno > prev.seqno, `${what}: vb ${t.partition_id} seqno ${seqno} > ${prev.seqno}`);
  }
  tokens.set(t.partition_id, { uuid: t.partition_uuid, seqno });
  return { vb: t.partition_id, seqno };
}

function persistedSeqno(mc, vb) {
  return new Promise((resolve, reject) => {
    mc.statsWithKey(`vbucket-seqno ${vb}`, (err, server, stats) => {
      if (err) return reject(err);
      resolve(BigInt(stats[`vb_${vb}:last_persisted_seqno`]));
    });
  });
}

// The byte-swapped hex kv_engine writes for ${Mutation.CAS}.
function macroCas(cas) {
  let v = BigInt(cas);
  let swapped = 0n;
  for (let i = 0; i < 8; i++) {
    swapped = (swapped << 8n) | (v & 0xffn);
    v >>= 8n;
  }
  return `0x${swapped.toString(16).padStart(16, '0')}`;
}

async function subdocAndXattrs(coll, k) {
  const { MutateInSpec, LookupInSpec, LookupInMacro, MutateInMacro } = couchbase;
  await coll.upsert(k, { name: 'x', list: [1], n: 1, tmp: true });
  let m = await coll.mutateIn(k, [
    MutateInSpec.upsert('name', 'y'),
    MutateInSpec.insert('added', true),
    MutateInSpec.arrayAppend('list', 2),
    MutateInSpec.remove('tmp'),
    MutateInSpec.increment('n', 5),
  ]);
  checkToken(m, 'mutateIn body');
  check(Number(m.content[4].value) === 6, `mutateIn increment result ${m.content[4].value}`);
  let got = await coll.get(k);
  check(JSON.stringify(got.content) === JSON.stringify({ name: 'y', list: [1, 2], n: 6, added: true }),
        `mutateIn body applied: ${JSON.stringify(got.content)}`);
  await expectError(() => coll.mutateIn(k, [MutateInSpec.insert('added', 1)]),
                    couchbase.PathExistsError, 'mutateIn insert of an existing path');
  await expectError(() => coll.mutateIn(`${k}-none`, [MutateInSpec.upsert('a', 1)]),
                    couchbase.DocumentNotFoundError, 'mutateIn on a missing document');
  await expectError(() => coll.mutateIn(k, [MutateInSpec.upsert('a', 1)], { cas: got.cas }).then(
                      () => coll.mutateIn(k, [MutateInSpec.upsert('a', 2)], { cas: got.cas })),
                    couchbase.CasMismatchError, 'mutateIn with a stale cas');
  const created = await coll.mutateIn(`${k}-new`, [MutateInSpec.upsert('a.b', 1, { createPath: true })],
                                      { storeSemantics: couchbase.StoreSemantics.Upsert });
  checkToken(created, 'mutateIn upsert document');
  check(JSON.stringify((await coll.get(`${k}-new`)).content) === '{"a":{"b":1}}',
        'mutateIn created the document');

  // Extended attributes, user and system, with macros.
  m = await coll.mutateIn(k, [
    MutateInSpec.upsert('meta.owner', 'ada', { xattr: true, createPath: true }),
    MutateInSpec.upsert('meta.cas', MutateInMacro.Cas, { xattr: true, createPath: true }),
    MutateInSpec.increment('meta.count', 1, { xattr: true, createPath: true }),
    MutateInSpec.upsert('_sys', { rev: 1 }, { xattr: true }),
    MutateInSpec.arrayAppend('list', 3),
  ]);
  checkToken(m, 'mutateIn xattrs');
  got = await coll.get(k);
  check(JSON.stringify(got.content.list) === '[1,2,3]' && got.content.meta === undefined,
        `get after xattr mutateIn shows the body only: ${JSON.stringify(got.content)}`);
  const r = await coll.lookupIn(k, [
    LookupInSpec.get('meta', { xattr: true }),
    LookupInSpec.get('_sys.rev', { xattr: true }),
    LookupInSpec.exists('meta.nothing', { xattr: true }),
    LookupInSpec.get('list'),
    LookupInSpec.get(LookupInMacro.Cas, { xattr: true }),
    LookupInSpec.get('$document', { xattr: true }),
  ]);
  const meta = r.content[0].value;
  check(meta.owner === 'ada' && meta.count === 1, `lookupIn xattr meta: ${JSON.stringify(meta)}`);
  check(meta.cas === macroCas(m.cas), `\${Mutation.CAS}: ${meta.cas} vs ${macroCas(m.cas)}`);
  check(r.content[1].value === 1, 'lookupIn system xattr');
  check(r.content[2].value === false, 'lookupIn exists(missing xattr) is false');
  check(JSON.stringify(r.content[3].value) === '[1,2,3]', 'lookupIn body path beside xattrs');
  check(BigInt(r.content[4].value) === BigInt(r.cas), `$document.CAS ${r.content[4].value}`);
  const doc = r.content[5].value;
  check(doc.deleted === false && doc.value_bytes === JSON.stringify(got.content).length &&
          JSON.stringify(doc.datatype) === '["json","xattr"]',
        `$document: ${JSON.stringify(doc)}`);
  // get with expiry reads $document.exptime through subdoc.
  await coll.upsert(`${k}-ttl`, { t: 1 }, { expiry: 3600 });
  const ttl = await coll.get(`${k}-ttl`, { withExpiry: true });
  const expiry = ttl.expiryTime instanceof Date ? ttl.expiryTime.getTime() / 1000 : Number(ttl.expiryTime);
  check(expiry > Date.now() / 1000 + 3000 && ttl.content.t === 1, `get withExpiry: ${ttl.expiryTime}`);
  // Removing an xattr.
  await coll.mutateIn(k, [MutateInSpec.remove('meta', { xattr: true })]);
  const after = await coll.lookupIn(k, [LookupInSpec.exists('meta', { xattr: true }),
                                        LookupInSpec.exists('_sys', { xattr: true })]);
  check(after.content[0].value === false && after.content[1].value === true,
        'mutateIn remove of an xattr');
}

async function main() {
  const cluster = await couchbase.connect(`couchbase://${env.host}:${env.port}`, {
    username: env.user,
    password: env.password,
  });
  const coll = cluster.bucket(env.bucket).defaultCollection();
  const mc = memjs.Client.create(`${env.user}:${env.password}@${env.host}:${env.port}`,
                                 { retries: 0, logger: { log: () => {} } });
  const run = `${process.pid}`;
  const key = (i) => `sdk-${run}-${i}`;

  // Documents: insert, duplicate insert, get, exists.
  for (let i = 0; i < DOCS; i++) {
    const doc = { n: i, name: `doc ${i}`, tags: ['a', 'b', i], nested: { deep: { v: i * 2 } } };
    const ins = await coll.insert(key(i), doc);
    check(ins.cas && BigInt(ins.cas) !== 0n, `insert ${i}: cas`);
    checkToken(ins, `insert ${i}`);
    await expectError(() => coll.insert(key(i), doc), couchbase.DocumentExistsError,
                      `insert ${i} again`);
    const got = await coll.get(key(i));
    check(JSON.stringify(got.content) === JSON.stringify(doc), `get ${i}: content`);
    check(String(got.cas) === String(ins.cas), `get ${i}: cas matches insert`);
    const ex = await coll.exists(key(i));
    check(ex.exists === true, `exists ${i}`);
  }
  // Replace with CAS, CAS mismatch, upsert.
  for (let i = 0; i < DOCS; i++) {
    const got = await coll.get(key(i));
    const rep = await coll.replace(key(i), { n: i, replaced: true }, { cas: got.cas });
    checkToken(rep, `replace ${i}`);
    check(String(rep.cas) !== String(got.cas), `replace ${i}: new cas`);
    await expectError(() => coll.replace(key(i), { stale: true }, { cas: got.cas }),
                      couchbase.CasMismatchError, `replace ${i} with stale cas`);
    const up = await coll.upsert(key(i), { n: i, upserted: true, list: [1, 2, 3] });
    checkToken(up, `upsert ${i}`);
    const again = await coll.get(key(i));
    check(again.content.upserted === true && again.content.n === i, `get ${i} after upsert`);
  }
  // Subdoc lookup of one path (and a missing one).
  for (let i = 0; i < DOCS; i += 4) {
    const r = await coll.lookupIn(key(i), [couchbase.LookupInSpec.get('n'),
                                           couchbase.LookupInSpec.get('list[1]'),
                                           couchbase.LookupInSpec.exists('missing')]);
    check(r.content[0].value === i, `lookupIn ${i}: n`);
    check(r.content[1].value === 2, `lookupIn ${i}: list[1]`);
    check(r.content[2].value === false, `lookupIn ${i}: exists(missing) is false`);
  }
  // Subdoc mutations (SUBDOC_MULTI_MUTATION) on the body, then with extended attributes
  // (xattr: true), macros, and lookups of xattrs and the virtual $document.
  await subdocAndXattrs(coll, key('subdoc'));
  // Touch and getAndTouch.
  for (let i = 0; i < DOCS; i += 2) {
    const t = await coll.touch(key(i), 3600);
    check(t.cas && BigInt(t.cas) !== 0n, `touch ${i}`);
    const gat = await coll.getAndTouch(key(i), 7200);
    check(gat.content.n === i, `getAndTouch ${i}: content`);
  }
  await expectError(() => coll.touch(`${key('none')}`, 10), couchbase.DocumentNotFoundError,
                    'touch missing');
  // Binary counters.
  const counter = `${key('counter')}`;
  const first = await coll.binary().increment(counter, 1, { initial: 100 });
  check(Number(first.value) === 100, 'increment creates with initial');
  let expected = 100;
  for (let i = 1; i <= DOCS; i++) {
    if (i % 3 === 0) {
      const d = await coll.binary().decrement(counter, 2);
      expected -= 2;
      check(Number(d.value) === expected, `decrement ${i}: ${d.value} == ${expected}`);
      checkToken(d, `decrement ${i}`);
    } else {
      const r = await coll.binary().increment(counter, 5);
      expected += 5;
      check(Number(r.value) === expected, `increment ${i}: ${r.value} == ${expected}`);
      checkToken(r, `increment ${i}`);
    }
  }
  // Durable writes at every level.
  const levels = [
    ['majority', couchbase.DurabilityLevel.Majority, false],
    ['majorityAndPersistActive', couchbase.DurabilityLevel.MajorityAndPersistOnMaster, true],
    ['persistToMajority', couchbase.DurabilityLevel.PersistToMajority, true],
  ];
  for (const [name, level, persists] of levels) {
    for (let i = 0; i < 40; i++) {
      const k = `${key('durable')}-${name}-${i}`;
      const r = await coll.upsert(k, { level: name, i }, { durabilityLevel: level });
      const t = checkToken(r, `durable ${name} ${i}`);
      if (persists && t) {
        const persisted = await persistedSeqno(mc, t.vb);
        check(persisted >= t.seqno,
              `durable ${name} ${i}: persisted ${persisted} >= seqno ${t.seqno} at the ack`);
      }
      const got = await coll.get(k);
      check(got.content.level === name, `durable ${name} ${i}: readable`);
    }
    const rm = await coll.remove(`${key('durable')}-${name}-0`, { durabilityLevel: level });
    checkToken(rm, `durable remove ${name}`);
    const inc = await coll.binary().increment(`${key('durable-counter')}-${name}`, 1,
                                              { initial: 7, durabilityLevel: level });
    check(Number(inc.value) === 7, `durable increment ${name}`);
  }
  // Remove, and everything that follows.
  for (let i = 0; i < DOCS; i++) {
    let got = await coll.get(key(i));
    if (i % 2 === 0) {
      await coll.upsert(key(i), { n: i, before_remove: true });
      await expectError(() => coll.remove(key(i), { cas: got.cas }), couchbase.CasMismatchError,
                        `remove ${i} with stale cas`);
      got = await coll.get(key(i));
    }
    const rm = await coll.remove(key(i), { cas: got.cas });
    checkToken(rm, `remove ${i}`);
    const ex = await coll.exists(key(i));
    check(ex.exists === false, `exists ${i} after remove`);
    await expectError(() => coll.get(key(i)), couchbase.DocumentNotFoundError,
                      `get ${i} after remove`);
    await expectError(() => coll.remove(key(i)), couchbase.DocumentNotFoundError,
                      `remove ${i} again`);
  }
  mc.close();
  await cluster.close();
  finish('sdk_ops');
}

main().catch(fatal);

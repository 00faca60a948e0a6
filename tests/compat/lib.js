'use strict';
// Shared by the compat scripts: where sluiced is (from the environment the ctest wrapper sets) and
// a tally of checks. Each script exits 0 only if every check passed, printing
// "N passed, M failed" as its last line.

const env = {
  host: process.env.SLUICE_HOST || '127.0.0.1',
  port: Number(process.env.SLUICE_PORT || 11210),
  user: process.env.SLUICE_USER || 'Administrator',
  password: process.env.SLUICE_PASSWORD || 'password',
  bucket: process.env.SLUICE_BUCKET || 'default',
};

let passed = 0;
let failed = 0;
const failures = [];

function check(cond, what) {
  if (cond) {
    passed++;
  } else {
    failed++;
    if (failures.length < 50) failures.push(what);
    console.error(`FAIL: ${what}`);
  }
  return cond;
}

// Runs `fn` and checks that it rejects with an error of class `cls`.
async function expectError(fn, cls, what) {
  try {
    await fn();
    return check(false, `${what}: succeeded, expected ${cls.name}`);
  } catch (e) {
    return check(e instanceof cls, `${what}: got ${e && e.constructor && e.constructor.name}: ${e && e.message}, expected ${cls.name}`);
  }
}

function finish(label) {
  console.log(`${label}: ${passed} checks`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

function fatal(e) {
  console.error('FATAL', e);
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
}

module.exports = { env, check, expectError, finish, fatal };

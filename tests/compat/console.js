'use strict';
// The web console in a real headless browser (Debian's chromium driven by npm playwright-core),
// against a static cluster of three nodes with two replicas (ctest: ConsoleBrowserTest):
//   1. the page of node a loads and shows three nodes, all up, and the vbucket map;
//   2. node c is killed (SIGKILL): the page marks it down;
//   3. c's active vbuckets are promoted on a (`sluice vbucket set VB active`): the page shows the
//      map change (a newer rev, fewer vbuckets active on c).
// Environment: SLUICE_CONSOLE_URL (node a's /console), SLUICE_CLI (the sluice binary),
//   SLUICE_KILL_PID (c's pid), SLUICE_PROMOTE=vb:port:topology;... (c's actives to promote on a),
//   CHROMIUM (default /usr/bin/chromium).
const { execFileSync } = require('child_process');
const { chromium } = require('playwright-core');
const { env, check, finish, fatal } = require('./lib');

const url = process.env.SLUICE_CONSOLE_URL;
const cli = process.env.SLUICE_CLI;
const killPid = Number(process.env.SLUICE_KILL_PID || 0);
const promote = (process.env.SLUICE_PROMOTE || '').split(';').filter(Boolean).map((p) => {
  const [vb, port, topology] = p.split(':');
  return { vb, port, topology };
});
const TIMEOUT_MS = 30000;

function sluice(args) {
  return execFileSync(cli, [...args, '--user', env.user, '--password', env.password, '--timeout',
    '30'], { encoding: 'utf8' });
}

// The page's view: each node's health, the map's rev and how many vbuckets each node is active for.
async function view(page) {
  return page.evaluate(() => {
    const health = {};
    for (const tr of document.querySelectorAll('#nodes tr[data-node]')) {
      health[tr.dataset.node] = tr.dataset.health;
    }
    const active = {};
    for (const div of document.querySelectorAll('#map div')) {
      active[div.dataset.active] = (active[div.dataset.active] || 0) + 1;
    }
    const map = document.getElementById('map');
    return { health, rev: Number(map.dataset.rev || 0), active, cells: map.children.length };
  });
}

async function waitFor(page, what, cond) {
  const deadline = Date.now() + TIMEOUT_MS;
  let last;
  while (Date.now() < deadline) {
    last = await view(page);
    if (cond(last)) return last;
    await page.waitForTimeout(200);
  }
  check(false, `${what}: not seen within ${TIMEOUT_MS} ms; last view ${JSON.stringify(last)}`);
  return last;
}

async function main() {
  if (!url || !cli || !killPid || promote.length === 0) {
    fatal('set SLUICE_CONSOLE_URL, SLUICE_CLI, SLUICE_KILL_PID and SLUICE_PROMOTE');
  }
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu'],
  });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const res = await page.goto(url);
    check(res && res.ok(), `GET ${url}: ${res && res.status()}`);
    check((await page.title()) === 'sluice console', 'the page title');

    const before = await waitFor(page, 'three nodes up', (v) =>
      ['a', 'b', 'c'].every((id) => v.health[id] === 'up'));
    check(Object.keys(before.health).length === 3, `three nodes: ${JSON.stringify(before.health)}`);
    check(before.cells > 0 && (before.active.c || 0) > 0, `a map with actives on c: ${JSON.stringify(before.active)}`);
    check(before.rev > 0, 'the map has a rev');

    process.kill(killPid, 'SIGKILL');
    await waitFor(page, 'c marked down', (v) => v.health.c === 'down');
    const down = await view(page);
    check(down.health.a === 'up' && down.health.b === 'up', `a and b stay up: ${JSON.stringify(down.health)}`);

    for (const p of promote) {
      sluice(['vbucket', 'set', p.vb, 'active', '--topology', p.topology, '--port', p.port]);
    }
    const after = await waitFor(page, 'the map change', (v) =>
      v.rev > before.rev && (v.active.c || 0) === (before.active.c || 0) - promote.length);
    check((after.active.a || 0) === (before.active.a || 0) + promote.length,
      `c's vbuckets now active on a: ${JSON.stringify(after.active)}`);
    check(errors.length === 0, `no script errors on the page: ${errors.join('; ')}`);
  } finally {
    await browser.close();
  }
  finish('console');
}

main().catch(fatal);

// A real browser through Rampart's challenge: headless Chromium (Debian's), driven by
// playwright-core. Prints one JSON line per check; exits non-zero on the first failure.
//
//   node challenge.mjs BASE_URL OUT_DIR WAIT_SECONDS
//
// 1. JavaScript on: the interstitial solves the proof-of-work and lands on the page asked
//    for; the clearance cookie is set (HttpOnly) and later pages are served unchallenged.
// 2. JavaScript off: the <noscript> form, sent after the wait, gets through as well.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

const [base, out, waitArg] = process.argv.slice(2);
const wait = Number(waitArg || '5');
mkdirSync(out, { recursive: true });
const say = (o) => console.log(JSON.stringify(o));

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  // 1. With JavaScript.
  const js = await browser.newContext();
  const page = await js.newPage();
  const statuses = [];
  page.on('response', (r) => statuses.push({ url: r.url(), status: r.status(), challenge: r.headers()['x-rampart-challenge'] || null }));
  const served = page.waitForResponse((r) => r.url().includes('from=challenge') && r.status() === 200, { timeout: 60000 });
  const first = await page.goto(`${base}/?from=challenge`, { waitUntil: 'domcontentloaded' });
  const firstChallenge = first.headers()['x-rampart-challenge'] || null;
  if (first.status() !== 403 || !firstChallenge) throw new Error(`expected a challenge first, got ${first.status()}`);
  await served;
  await page.waitForLoadState('domcontentloaded');
  await page.screenshot({ path: `${out}/after-clearance.png`, fullPage: true });
  const cookies = await js.cookies();
  const clearance = cookies.find((c) => c.name === 'rampart_clearance');
  say({ check: 'js_solved', title: await page.title(), url: page.url(), cookie: !!clearance, httpOnly: clearance?.httpOnly ?? null, statuses });
  if (!clearance || !clearance.httpOnly) throw new Error('no HttpOnly clearance cookie after the challenge');

  const again = await page.goto(`${base}/`, { waitUntil: 'domcontentloaded' });
  const againChallenged = again.headers()['x-rampart-challenge'] || null;
  say({ check: 'js_kept_clearance', status: again.status(), challenge: againChallenged, title: await page.title() });
  if (again.status() !== 200 || againChallenged) throw new Error('the next page was challenged again');
  await js.close();

  // 2. Without JavaScript.
  const nojs = await browser.newContext({ javaScriptEnabled: false });
  const p2 = await nojs.newPage();
  const noJsFirst = await p2.goto(`${base}/`, { waitUntil: 'domcontentloaded' });
  await p2.screenshot({ path: `${out}/challenge-nojs.png`, fullPage: true });
  say({ check: 'nojs_challenged', status: noJsFirst.status(), challenge: noJsFirst.headers()['x-rampart-challenge'] || null });
  if (noJsFirst.status() !== 403) throw new Error("no challenge without JavaScript");
  await p2.waitForTimeout((wait + 1) * 1000);
  await Promise.all([p2.waitForNavigation({ timeout: 30000 }), p2.click('noscript form button, form button')]);
  const landed = await p2.goto(`${base}/`, { waitUntil: 'domcontentloaded' });
  await p2.screenshot({ path: `${out}/after-nojs.png`, fullPage: true });
  const cookies2 = await nojs.cookies();
  say({ check: 'nojs_through', status: landed.status(), cookie: cookies2.some((c) => c.name === 'rampart_clearance'), title: await p2.title() });
  if (landed.status() !== 200) throw new Error('the no-JavaScript path did not get through');
  await nojs.close();
} finally {
  await browser.close();
}

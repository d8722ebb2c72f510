// A WebSocket through Rampart in headless Chromium (Debian's), driven by playwright-core: the
// page, served through the shield, opens ws://<same host>/ws (wss:// when the page is https:),
// reads the server's greeting, and has a short and a 70,000-character message echoed. Prints
// one JSON line; exits non-zero on failure. Over https the shield's certificate is the test's
// own, self-signed: certificate errors are ignored.
//
//   node websocket.mjs PAGE_URL
import { chromium } from 'playwright-core';

const [url] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ ignoreHTTPSErrors: true });
  await page.goto(url, { waitUntil: 'load' });
  const result = await page.evaluate(async () => {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
    const queue = [];
    let waiting = null;
    ws.onmessage = (e) => { if (waiting) { waiting.ok(e.data); waiting = null; } else { queue.push(e.data); } };
    const failed = (why) => { if (waiting) { waiting.no(new Error(why)); waiting = null; } };
    ws.onerror = () => failed('websocket error');
    ws.onclose = (e) => failed(`closed ${e.code}`);
    const next = () => queue.length ? Promise.resolve(queue.shift())
      : new Promise((ok, no) => { waiting = { ok, no }; setTimeout(() => failed('no message in 10 s'), 10000); });
    await new Promise((ok, no) => { ws.onopen = ok; setTimeout(() => no(new Error('did not open in 10 s')), 10000); });
    const greeting = await next();
    ws.send('hello through the shield');
    const echo = await next();
    const big = Array.from({ length: 70000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
    ws.send(big);
    const bigEcho = await next();
    const closed = new Promise((ok) => { ws.onclose = (e) => ok(e.code); });
    ws.close(1000);
    return { greeting, echo, bigLength: bigEcho.length, bigSame: bigEcho === big, closeCode: await closed };
  });
  console.log(JSON.stringify({ check: 'websocket', ...result }));
  if (result.echo !== 'hello through the shield' || !result.bigSame || result.closeCode !== 1000) {
    throw new Error(`unexpected: ${JSON.stringify(result)}`);
  }
} finally {
  await browser.close();
}

// An incident's HTML report in headless Chromium (Debian's), driven by playwright-core: it
// must open from a file with no request to anything else, show every NCSC section and the
// SVG chart, and leave a screenshot. Prints one JSON line; exits non-zero on failure.
//
//   node report.mjs REPORT_HTML OUT_PNG
import { chromium } from 'playwright-core';
import { pathToFileURL } from 'node:url';

const [file, png] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const requests = [];
  const errors = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  const url = pathToFileURL(file).href;
  await page.goto(url, { waitUntil: 'load' });
  const sections = await page.$$eval('h2[id]', (hs) => hs.map((h) => h.id));
  const svg = await page.$eval('svg', (s) => ({ w: s.getBoundingClientRect().width, bars: s.querySelectorAll('rect').length }));
  const title = await page.title();
  await page.screenshot({ path: png, fullPage: true });
  const foreign = requests.filter((u) => u !== url);
  console.log(JSON.stringify({ check: 'report_opened', title, sections, svg, foreign, errors }));
  if (foreign.length || errors.length) throw new Error(`foreign requests ${foreign} or errors ${errors}`);
} finally {
  await browser.close();
}

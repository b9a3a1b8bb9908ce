// Drives headless Chromium through the UI's pages for ui_pages_test.go,
// one command at a time: the Go test writes a JSON command per line on
// stdin and reads one JSON answer per line on stdout,
// {"ok":true,"value":...} or {"ok":false,"error":"...","seen":"..."}.
//
// Environment: TASKPULSE_CHROMIUM (the browser binary) and
// TASKPULSE_PLAYWRIGHT (the node_modules holding playwright-core and
// axe-core, as deploy/browser.sh installs them).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { createInterface } from "node:readline";

const modules = process.env.TASKPULSE_PLAYWRIGHT;
const require = createRequire(import.meta.url);
const { chromium } = require(join(modules, "playwright-core"));
const axeSource = readFileSync(join(modules, "axe-core", "axe.min.js"), "utf8");

const browser = await chromium.launch({
  executablePath: process.env.TASKPULSE_CHROMIUM,
  // Chromium's sandbox refuses to start as root, as in CI containers.
  args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
// Confirmations (deleting a dashboard) are accepted, as a person would.
page.on("dialog", (d) => d.accept());
const problems = [];
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
// A Content-Security-Policy violation is reported as a console error.
page.on("console", (m) => m.type() === "error" && problems.push(`console error: ${m.text()}`));

const timeout = 20000;
const until = (fn, arg) => page.waitForFunction(fn, arg, { timeout, polling: 50 });

const ops = {
  viewport: (c) => page.setViewportSize({ width: c.width, height: c.height }).then(() => c.width),
  goto: (c) => page.goto(c.url, { timeout }).then(() => null),
  // visible waits until an element matching selector is visible.
  visible: (c) => page.locator(c.selector).first().waitFor({ state: "visible", timeout }).then(() => null),
  // text waits until the element's text contains the value, and answers the text.
  text: async (c) => {
    await until(([s, want]) => document.querySelector(s)?.textContent.includes(want), [c.selector, c.value]);
    return page.textContent(c.selector);
  },
  // attr waits until the element's attribute has the value.
  attr: (c) =>
    until(([s, name, want]) => document.querySelector(s)?.getAttribute(name) === want, [c.selector, c.name, c.value]).then(() => c.value),
  // count waits until as many elements as value match selector (any number
  // when value is absent) and answers the count.
  count: async (c) => {
    if (c.value !== undefined) await until(([s, n]) => document.querySelectorAll(s).length === n, [c.selector, c.value]);
    return page.locator(c.selector).count();
  },
  click: (c) => page.click(c.selector, { timeout }).then(() => null),
  fill: (c) => page.fill(c.selector, c.value, { timeout }).then(() => null),
  select: (c) => page.selectOption(c.selector, c.value, { timeout }).then(() => null),
  // forget drops the key the tab keeps, as a new tab would have none.
  forget: () => page.evaluate(() => sessionStorage.clear()).then(() => null),
  path: () => page.evaluate(() => location.pathname + location.search),
  screenshot: (c) => page.screenshot({ path: c.path, fullPage: true }).then(() => c.path),
  // axe runs axe-core in the page and answers its serious and critical
  // findings. It is evaluated through the driver, which the page's CSP
  // does not govern, so the page keeps its policy while it is checked.
  axe: async () => {
    await page.evaluate(axeSource);
    const result = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ["violations"] }));
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).slice(0, 5).join("; ")})`);
  },
  // mark answers the time, in ms since navigation, of a performance mark.
  mark: async (c) => {
    await until((name) => performance.getEntriesByName(name).length > 0, c.value);
    return page.evaluate((name) => performance.getEntriesByName(name)[0].startTime, c.value);
  },
  // overflow answers how far the page is wider than the viewport, in px.
  overflow: () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth),
  // answered answers when, in ms since navigation, the first response
  // whose address contains value had arrived.
  answered: (c) =>
    page.evaluate((part) => performance.getEntriesByType("resource").find((e) => e.name.includes(part))?.responseEnd ?? -1, c.value),
  // loaded answers the addresses of the page and of every file it loaded.
  loaded: () => page.evaluate(() => [location.href, ...performance.getEntriesByType("resource").map((e) => e.name)]),
  problems: async () => problems.splice(0),
};

// seen is what the element of a failed command holds, for the error.
const seen = (c) =>
  c.selector
    ? page
        .evaluate((s) => document.querySelector(s)?.textContent ?? "(no such element)", c.selector)
        .catch((e) => e.message)
    : null;

for await (const line of createInterface({ input: process.stdin })) {
  const c = JSON.parse(line);
  let answer;
  try {
    answer = { ok: true, value: await ops[c.op](c) };
  } catch (e) {
    answer = { ok: false, error: `${c.op} ${c.selector ?? c.url ?? ""}: ${e.message}`, seen: await seen(c) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}
await browser.close();

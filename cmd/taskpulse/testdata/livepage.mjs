// Drives headless Chromium for the browser tests, one command at a time:
// the Go test writes a JSON command per line on stdin and reads one JSON
// answer per line on stdout, {"ok":true,"value":...} or
// {"ok":false,"error":"..."}.
//
// Environment: TASKPULSE_CHROMIUM (the browser binary) and
// TASKPULSE_PLAYWRIGHT (the node_modules holding playwright-core).
import { createRequire } from "node:module";
import { join } from "node:path";
import { createInterface } from "node:readline";

const require = createRequire(import.meta.url);
const { chromium } = require(join(process.env.TASKPULSE_PLAYWRIGHT, "playwright-core"));

const browser = await chromium.launch({
  executablePath: process.env.TASKPULSE_CHROMIUM,
  // Chromium's sandbox refuses to start as root, as in CI containers.
  args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
const problems = [];
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
page.on("console", (m) => {
  // Chromium reports a refused WebSocket as a console error of its own; a
  // page retrying while its server restarts is expected to meet some.
  if (m.type() === "error" && !m.text().startsWith("WebSocket connection to ")) problems.push(`console error: ${m.text()}`);
});

// Long enough for a page to reconnect after its backoff grew while the
// server was down.
const timeout = 30000;

// until waits for fn(selector, arg) to be true in the page.
const until = (fn, selector, arg) =>
  page.waitForFunction(fn, [selector, arg], { timeout, polling: 50 });

const ops = {
  goto: (c) => page.goto(c.url, { timeout }).then(() => null),
  // attr waits until the first element matching selector has the attribute
  // at the value, and answers that value.
  attr: (c) =>
    until(([s, [name, want]]) => document.querySelector(s)?.getAttribute(name) === want, c.selector, [c.name, c.value]).then(() => c.value),
  // text waits until the element's text contains the value, and answers the text.
  text: async (c) => {
    await until(([s, want]) => document.querySelector(s)?.textContent.includes(want), c.selector, c.value);
    return page.textContent(c.selector);
  },
  count: (c) => page.locator(c.selector).count(),
  click: (c) => page.click(c.selector, { timeout }).then(() => null),
  select: (c) => page.selectOption(c.selector, c.value, { timeout }).then(() => null),
  // offline cuts the page off the network (value true) or brings it back.
  offline: (c) => page.context().setOffline(c.value).then(() => c.value),
  screenshot: (c) => page.screenshot({ path: c.path, fullPage: true }).then(() => c.path),
  problems: async () => problems,
};

// seen is what the element of a failed command holds, for the error.
const seen = (c) =>
  c.selector
    ? page
        .evaluate(([s, name]) => {
          const el = document.querySelector(s);
          return el ? (name ? el.getAttribute(name) : el.textContent) : "(no such element)";
        }, [c.selector, c.name])
        .catch((e) => e.message)
    : null;

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
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

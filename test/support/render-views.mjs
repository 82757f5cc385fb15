#!/usr/bin/env node
// Renders every page in views/ with sample data — including hostile strings
// in every value — asserts the hostile strings only ever appear escaped, then
// takes screenshots with Chromium (desktop and phone, light and dark) into
// test-artifacts/views/.
//
//   node test/support/render-views.mjs            # render, check, screenshot
//   node test/support/render-views.mjs --no-shots # render and check only
//
// Exits non-zero if a hostile string appears unescaped or rendering fails.

import { mkdtemp, mkdir, readFile, rm, writeFile, copyFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ejs from "ejs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const viewsDir = join(root, "views");
const cssFile = join(root, "static", "ssoctl.css");
const outDir = join(root, "test-artifacts", "views");
const takeShots = !process.argv.includes("--no-shots");

const HOSTILE = [
  "<script>alert(1)</script>",
  '"><img src=x onerror=alert(1)>',
  "'><svg onload=alert(1)>",
];
const h = (i) => HOSTILE[i % HOSTILE.length];

// Pages with realistic data (for the screenshots) plus hostile variants (for
// the escaping check; also screenshotted so a broken layout would show).
const pages = [
  {
    name: "login",
    view: "login",
    pageTitle: "Sign in",
    locals: {
      appName: "Grafana",
      appOrigin: "https://grafana.example.com",
      username: "",
      error: null,
      csrf: "q8Zf3kQ1nW2bYt9xLr0vC5sA",
      hidden: [
        { name: "app", value: "https://grafana.example.com" },
        { name: "path", value: "/d/overview" },
        { name: "qs", value: "?orgId=1" },
      ],
      action: "/login",
    },
  },
  {
    name: "login-error",
    view: "login",
    pageTitle: "Sign in",
    locals: {
      appName: "Grafana",
      appOrigin: "https://grafana.example.com",
      username: "alice",
      error: "The username or password is incorrect.",
      csrf: "q8Zf3kQ1nW2bYt9xLr0vC5sA",
      hidden: [{ name: "rd", value: "https://grafana.example.com/d/overview?orgId=1" }],
      action: "/login",
    },
  },
  {
    name: "login-noapp",
    view: "login",
    pageTitle: "Sign in",
    locals: {
      appName: null,
      appOrigin: null,
      username: "",
      error: null,
      csrf: "q8Zf3kQ1nW2bYt9xLr0vC5sA",
      hidden: [],
      action: "/login",
    },
  },
  {
    name: "success",
    view: "success",
    pageTitle: "Signed in",
    locals: {
      username: "alice",
      targetUrl: "https://grafana.example.com/d/overview?orgId=1",
      appName: "Grafana",
    },
  },
  {
    name: "success-noapp",
    view: "success",
    pageTitle: "Signed in",
    locals: { username: "alice", targetUrl: "https://sso.example.com/", appName: null },
  },
  {
    name: "signed-in",
    view: "signed-in",
    pageTitle: "Signed in",
    locals: { username: "alice", logoutAction: "/logout", csrf: "q8Zf3kQ1nW2bYt9xLr0vC5sA" },
  },
  {
    name: "logout",
    view: "logout",
    pageTitle: "Signed out",
    locals: { loginHref: "/login" },
  },
  {
    name: "error",
    view: "error",
    pageTitle: "Application not registered",
    locals: {
      heading: "Application not registered",
      message:
        "The page you came from is not registered with this sign-in server, so you cannot be sent back to it. An administrator can register it with:",
      details: "ssoctl app add https://app.example.com",
      status: 400,
    },
  },
  {
    name: "error-nodetails",
    view: "error",
    pageTitle: "Too many attempts",
    locals: {
      heading: "Too many attempts",
      message: "Too many sign-in attempts. Wait a minute, then try again.",
      details: null,
      status: 429,
    },
  },
];

// Hostile variants: every string value (including hidden field names and
// values, and the layout's title / pageTitle / locale) replaced by a hostile
// string; all of them are escaped by the templates.
function hostilize(value, counter) {
  if (typeof value === "string") return h(counter.n++);
  if (Array.isArray(value)) return value.map((v) => hostilize(v, counter));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, hostilize(v, counter)]));
  }
  return value;
}
const hostilePages = [];
for (const view of ["login", "success", "signed-in", "logout", "error"]) {
  const base = pages.find((p) => p.view === view && !p.name.includes("-no")) ?? pages.find((p) => p.view === view);
  // Fill nullable values so they are exercised too.
  const filled = { ...base.locals };
  for (const [k, v] of Object.entries(filled)) if (v === null) filled[k] = "x";
  for (let shift = 0; shift < HOSTILE.length; shift++) {
    hostilePages.push({
      name: `${view}-hostile${shift}`,
      view,
      hostile: true,
      pageTitle: h(shift),
      title: h(shift + 1),
      locale: h(shift + 2),
      locals: hostilize(filled, { n: shift }),
    });
  }
}

const templates = {};
async function template(name) {
  templates[name] ??= await readFile(join(viewsDir, `${name}.ejs`), "utf8");
  return templates[name];
}

async function renderPage(page) {
  const bodyHtml = ejs.render(await template(page.view), page.locals, { filename: join(viewsDir, `${page.view}.ejs`) });
  return ejs.render(
    await template("layout"),
    {
      title: page.title ?? "Sign in",
      pageTitle: page.pageTitle,
      body: bodyHtml,
      cssHref: "/static/ssoctl.css",
      locale: page.locale ?? "en",
    },
    { filename: join(viewsDir, "layout.ejs") },
  );
}

// Static checks on every rendered page.
function check(page, html) {
  const problems = [];
  for (const s of HOSTILE) if (html.includes(s)) problems.push(`unescaped hostile string ${JSON.stringify(s)}`);
  // Any raw markup a hostile value could have introduced.
  if (/<script\b/i.test(html)) problems.push("contains <script");
  if (/<img\b/i.test(html)) problems.push("contains <img");
  // Walk every real tag (attribute values quoted or not) and reject
  // unexpected elements and any event-handler attribute.
  const ALLOWED_TAGS = new Set([
    "html", "head", "meta", "title", "link", "body", "main", "div", "header", "span", "h1", "p", "strong",
    "form", "input", "label", "button", "a", "pre", "code", "svg", "path", "circle",
  ]);
  const tagRe = /<([a-zA-Z][\w-]*)((?:\s+[^\s"'>\/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*)\s*\/?>/g;
  const attrRe = /\s+([^\s"'>\/=]+)(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?/g;
  const stripped = html.replace(/<!doctype html>/i, "").replace(/<\/[a-zA-Z][\w-]*\s*>/g, "");
  let leftover = stripped;
  for (const [whole, tag, attrs] of stripped.matchAll(tagRe)) {
    leftover = leftover.replace(whole, "");
    if (!ALLOWED_TAGS.has(tag.toLowerCase())) problems.push(`unexpected element <${tag}>`);
    for (const [, attr] of attrs.matchAll(attrRe)) {
      if (/^on/i.test(attr)) problems.push(`event-handler attribute ${attr} on <${tag}>`);
    }
  }
  if (leftover.includes("<")) problems.push("a raw '<' outside any known tag");
  if (page.hostile) {
    // The hostile strings must be there — escaped.
    const escaped = ejs.escapeXML(page.pageTitle);
    if (!html.includes(escaped)) problems.push(`escaped form ${escaped} not found`);
  }
  if (/\sstyle\s*=/i.test(html)) problems.push("contains an inline style= attribute");
  if (/<style\b/i.test(html)) problems.push("contains an inline <style>");
  if (/(src|href)\s*=\s*"(https?:)?\/\/(?!grafana\.example\.com|sso\.example\.com)/i.test(html)) {
    problems.push("references an external asset");
  }
  const linkTags = html.match(/<link\b[^>]*>/gi) ?? [];
  if (linkTags.length !== 1 || !linkTags[0].includes('href="/static/ssoctl.css"')) {
    problems.push(`expected exactly one stylesheet link, got ${JSON.stringify(linkTags)}`);
  }
  for (const meta of [
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="robots" content="noindex">',
    '<meta name="color-scheme" content="light dark">',
  ]) {
    if (!html.includes(meta)) problems.push(`missing ${meta}`);
  }
  if (!page.hostile && !html.includes('<html lang="en">')) problems.push('missing <html lang="en">');
  if (page.view === "login") {
    for (const needle of [
      'autocomplete="username"',
      'autocomplete="current-password"',
      'name="csrf"',
      'method="post"',
      '<label for="username">',
      '<label for="password">',
    ]) {
      if (!html.includes(needle)) problems.push(`login page lacks ${needle}`);
    }
    if (page.locals.error && !html.includes('role="alert"')) problems.push("error without role=alert");
    if ((html.match(/\sautofocus\b/g) ?? []).length !== 1) problems.push("expected exactly one autofocus");
  }
  return problems;
}

const workDir = await mkdtemp(join(tmpdir(), "ssoctl-views-"));
let failed = false;
try {
  await mkdir(join(workDir, "static"), { recursive: true });
  await copyFile(cssFile, join(workDir, "static", "ssoctl.css"));

  const all = [...pages, ...hostilePages];
  for (const page of all) {
    let html;
    try {
      html = await renderPage(page);
    } catch (err) {
      console.error(`FAIL ${page.name}: render error: ${err.message}`);
      failed = true;
      continue;
    }
    page.html = html;
    await writeFile(join(workDir, `${page.name}.html`), html);
    const problems = check(page, html);
    if (problems.length) {
      failed = true;
      for (const p of problems) console.error(`FAIL ${page.name}: ${p}`);
    } else {
      console.log(`ok   ${page.name}`);
    }
  }

  if (takeShots && !failed) {
    await mkdir(outDir, { recursive: true });
    await screenshot(workDir, [...pages, ...hostilePages.filter((p) => p.name.endsWith("hostile1"))]);
  }
} finally {
  await rm(workDir, { recursive: true, force: true });
}

if (failed) {
  console.error("render-views: FAILED");
  process.exit(1);
}
console.log("render-views: all pages rendered, hostile strings escaped");

async function screenshot(dir, shotPages) {
  const { chromium } = await import("playwright-core");
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    const types = { ".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8" };
    const ext = path.slice(path.lastIndexOf("."));
    if (!types[ext] || path.includes("..")) {
      res.writeHead(404).end();
      return;
    }
    try {
      const data = await readFile(join(dir, path));
      res.writeHead(200, {
        "content-type": types[ext],
        "content-security-policy":
          "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
      });
      res.end(data);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address();
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  try {
    const variants = [
      { tag: "desktop", viewport: { width: 1280, height: 800 } },
      { tag: "phone", viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
    ];
    for (const colorScheme of ["light", "dark"]) {
      for (const v of variants) {
        const context = await browser.newContext({
          viewport: v.viewport,
          colorScheme,
          isMobile: v.isMobile ?? false,
          hasTouch: v.hasTouch ?? false,
          deviceScaleFactor: v.deviceScaleFactor ?? 1,
          javaScriptEnabled: false,
        });
        const page = await context.newPage();
        const cspErrors = [];
        page.on("console", (m) => {
          if (/Content Security Policy|Refused/i.test(m.text())) cspErrors.push(m.text());
        });
        const failedRequests = [];
        page.on("requestfailed", (r) => failedRequests.push(r.url()));
        page.on("response", (r) => {
          if (r.status() >= 400) failedRequests.push(`${r.status()} ${r.url()}`);
        });
        for (const p of shotPages) {
          await page.goto(`http://127.0.0.1:${port}/${p.name}.html`, { waitUntil: "load" });
          const cssLoaded = await page.evaluate(() => document.styleSheets.length === 1 && document.styleSheets[0].cssRules.length > 0).catch(() => null);
          if (cssLoaded === false) {
            console.error(`FAIL ${p.name}: stylesheet not applied`);
            failed = true;
          }
          await page.screenshot({ path: join(outDir, `${p.name}-${v.tag}-${colorScheme}.png`), fullPage: true });
          if (p.name === "login" && v.tag === "desktop") {
            // Keyboard focus ring: tab to the submit button.
            await page.focus("#password");
            await page.keyboard.press("Tab");
            await page.screenshot({ path: join(outDir, `login-focus-${v.tag}-${colorScheme}.png`) });
          }
        }
        if (cspErrors.length) {
          failed = true;
          for (const e of cspErrors) console.error(`FAIL CSP (${v.tag} ${colorScheme}): ${e}`);
        }
        if (failedRequests.length) {
          failed = true;
          for (const r of failedRequests) console.error(`FAIL request (${v.tag} ${colorScheme}): ${r}`);
        }
        await context.close();
      }
    }
    console.log(`screenshots in ${outDir}`);
  } finally {
    await browser.close();
    await new Promise((ok) => server.close(ok));
  }
}

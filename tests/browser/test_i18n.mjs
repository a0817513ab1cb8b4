// Browser test of the translations (web/i18n/<lang>/<ns>.json, web/js/core/i18n.js): every key
// of each English catalogue exists in Korean and Simplified Chinese (read from disk: a missing
// key fails with its name); for each language the login view, the agent desktop with an offer
// and an active interaction, an email pane with its reply composer (and the API's refusal), and
// every other registered page render without a missing key
// (window.__blendMissingKeys stays empty) and with <html lang> set; the language picker stores
// the choice; a customer's name written in Hangul and Hanzi shows unmangled.
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import {
  run, startServer, launchBrowser, newPage, login, step, screenshot, apiLogin, apiClient, src, sleep,
  artifactsDir,
} from "./lib.mjs";

const LANGS = ["en", "ko", "zh-CN"];
const i18nDir = join(src, "web", "i18n");

// Counts the page's API calls in flight, so a check can wait until the page has rendered what
// they brought (instead of sleeping).
async function trackFetches(page) {
  await page.context().addInitScript(() => {
    window.__pending = 0;
    const orig = window.fetch;
    window.fetch = async (...args) => {
      window.__pending++;
      try {
        return await orig(...args);
      } finally {
        setTimeout(() => { window.__pending--; }, 0);
      }
    };
  });
}

async function settle(page) {
  for (let i = 0; i < 2; i++) {
    await page.waitForFunction(() => window.__pending === 0, null, { timeout: 10000 });
    await sleep(60);
  }
}

async function missingKeys(page) {
  return page.evaluate(() => [...(window.__blendMissingKeys || [])]);
}

async function assertNoMissing(page, where) {
  const m = await missingKeys(page);
  if (m.length) throw new Error(`${where}: missing keys ${m.join(", ")}`);
  const lang = await page.evaluate(() => document.documentElement.lang);
  return lang;
}

await run(async () => {
  await step("every key of the English catalogues exists in ko and zh-CN (files on disk)", async () => {
    const namespaces = readdirSync(join(i18nDir, "en")).filter((f) => f.endsWith(".json"));
    if (!namespaces.includes("common.json") || !namespaces.includes("agent.json")) {
      throw new Error(`en has ${namespaces.join(", ")}`);
    }
    const problems = [];
    for (const file of namespaces) {
      const ns = file.replace(/\.json$/, "");
      const en = JSON.parse(readFileSync(join(i18nDir, "en", file), "utf8"));
      for (const lang of LANGS.slice(1)) {
        const path = join(i18nDir, lang, file);
        if (!existsSync(path)) {
          problems.push(`${lang}/${file} missing`);
          continue;
        }
        const other = JSON.parse(readFileSync(path, "utf8"));
        for (const key of Object.keys(en)) {
          if (typeof other[key] !== "string" || other[key] === "") problems.push(`${lang}: ${ns}.${key}`);
        }
        for (const key of Object.keys(other)) {
          if (!(key in en)) problems.push(`${lang}: ${ns}.${key} is not in en`);
        }
        // Placeholders must survive translation.
        for (const [key, text] of Object.entries(en)) {
          const want = (text.match(/\{\w+\}/g) || []).sort().join();
          const got = ((other[key] || "").match(/\{\w+\}/g) || []).sort().join();
          if (other[key] && want !== got) problems.push(`${lang}: ${ns}.${key} placeholders ${got} != ${want}`);
        }
      }
    }
    if (problems.length) throw new Error(problems.join("; "));
  });

  const srv = await startServer();
  const browser = await launchBrowser();
  const admin = apiClient(srv.base, await apiLogin(srv.base, "admin", "admin-demo-pass"));
  const customerName = "박서연 王芳 (Park Seoyeon)";

  const walks = [];
  for (const lang of LANGS) {
    let loginPage = null;
    const ui = JSON.parse(readFileSync(join(i18nDir, lang, "common.json"), "utf8"));
    const agentUi = JSON.parse(readFileSync(join(i18nDir, lang, "agent.json"), "utf8"));

    await step(`${lang}: the login view is translated and complete`, async () => {
      const page = await newPage(browser, { lang });
      await page.goto(srv.base + "/");
      await page.locator("#login-title", { hasText: ui.login_title }).waitFor();
      await page.locator('label[for="username"]', { hasText: ui.username }).waitFor();
      const htmlLang = await assertNoMissing(page, "login");
      if (htmlLang !== lang) throw new Error(`<html lang> is ${htmlLang}`);
      await screenshot(page, `i18n-${lang}-login`);
      page.assertNoErrors();
      loginPage = page; // the next step logs in on it
    });

    await step(`${lang}: the agent desktop with an offer and a chat, and the customer's name unmangled`, async () => {
      const page = loginPage || await newPage(browser, { lang });
      loginPage = null;
      await login(page, srv.base, "minji", "agent-demo-pass");
      await page.locator("#agent-desktop").waitFor();
      await page.locator("#state-title", { hasText: agentUi.my_state }).waitFor();
      await page.locator("#state-ready").click();
      await page.locator("#my-state[data-state=ready]", { hasText: ui.state_ready }).waitFor();
      const c = await admin("POST", "/api/v1/contacts", { name: customerName });
      if (c.status !== 201) throw new Error(`contact: ${c.status}`);
      const r = await admin("POST", "/api/v1/interactions", { channel: "chat", queue: "chat-support", contact: c.body.id });
      if (r.status !== 201) throw new Error(`interaction: ${r.status}`);
      const offer = page.locator(`.offer[data-interaction="${r.body.id}"]`);
      await offer.locator(".offer-customer").waitFor();
      await page.waitForFunction(([id, name]) => document.querySelector(
        `.offer[data-interaction="${id}"] .offer-customer`)?.textContent === name, [r.body.id, customerName]);
      await screenshot(page, `i18n-${lang}-offer`);
      await offer.locator("button.accept").click();
      const pane = page.locator(`.interaction[data-interaction="${r.body.id}"]`);
      await pane.locator(".pane-customer", { hasText: customerName }).waitFor();
      await pane.locator("dl.customer dd", { hasText: customerName }).waitFor();
      const shown = await pane.locator(".pane-customer").textContent();
      if (shown !== customerName) throw new Error(`shown as ${JSON.stringify(shown)}`);
      const stored = await admin("GET", `/api/v1/contacts/${c.body.id}`);
      if (stored.body.name !== customerName) throw new Error(`stored as ${JSON.stringify(stored.body.name)}`);
      await screenshot(page, `i18n-${lang}-agent`);
      await pane.locator("button.end").click();
      await page.locator("#wrapup-timer").waitFor();
      await assertNoMissing(page, "agent desktop");
      await page.locator("#wrapup-end").click();
      await page.locator("#my-state[data-state=ready]").waitFor();
      await page.keyboard.press("?");
      await page.locator("#help[open]").waitFor();
      await page.locator("#help", { hasText: agentUi.key_accept }).waitFor();
      await page.keyboard.press("Escape");
      await assertNoMissing(page, "agent desktop after wrap-up");
      await page.locator("#state-logout").click();
      await page.locator("#my-state[data-state=logged-out]").waitFor();
      page.assertNoErrors();
      await page.context().close();
    });

    await step(`${lang}: an email pane (conversation, reply composer and the API's refusal) is translated`, async () => {
      const page = await newPage(browser, { lang });
      await login(page, srv.base, "david", "agent-demo-pass");
      await page.locator("#state-ready").click();
      await page.locator("#my-state[data-state=ready]").waitFor();
      const r = await admin("POST", "/api/v1/interactions", { channel: "email", queue: "email-support" });
      if (r.status !== 201) throw new Error(`interaction: ${r.status}`);
      await page.locator(`.offer[data-interaction="${r.body.id}"] button.accept`).click();
      const pane = page.locator(`.interaction[data-interaction="${r.body.id}"]`);
      await pane.locator(".conv-empty", { hasText: agentUi.conv_none }).waitFor();
      await pane.locator(".reply-text").fill("안녕하세요 / 您好");
      await pane.locator(".reply-text").press("Control+Enter");
      const prefix = agentUi.reply_failed.split("{message}")[0];
      await pane.locator(".reply-error", { hasText: prefix }).waitFor();
      await assertNoMissing(page, "email pane");
      await screenshot(page, `i18n-${lang}-email`);
      await pane.locator("button.end").click();
      await pane.locator("button.close-pane").click();
      await page.locator("#state-logout").click();
      await page.locator("#my-state[data-state=logged-out]").waitFor();
      page.assertNoErrors();
      await page.context().close();
    });

    // The walk through the other pages runs alongside the next languages' steps (it uses
    // other users than Minji); its result is reported below.
    walks.push([lang, (async () => {
      const visited = [];
      // Each page once, as the most privileged user who has it (the admin, then a supervisor with
      // an agent for the agent desktop, then QA) — keeps the test fast.
      const seenAll = new Set();
      for (const [user, pass] of [["admin", "admin-demo-pass"], ["sophia", "super-demo-pass"], ["quinn", "qa-demo-pass"]]) {
        const page = await newPage(browser, { lang });
        await trackFetches(page);
        await login(page, srv.base, user, pass);
        const links = await page.locator("#nav a").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
        const seen = seenAll;
        const queue = links.filter((l) => !seen.has(l));
        while (queue.length) {
          const href = queue.shift();
          if (seen.has(href)) continue;
          seen.add(href);
          await page.evaluate((h) => { location.hash = h; }, href);
          await page.locator("#main > *").first().waitFor();
          await settle(page);
          await assertNoMissing(page, `${user} ${href}`);
          if (await page.locator("#not-found").count()) throw new Error(`${href} is not found`);
          // Sub-pages linked from inside a page (e.g. admin sections).
          const inner = await page.locator('#main a[href^="#/"]').evaluateAll((as) => as.map((a) => a.getAttribute("href")));
          for (const h of inner) if (!seen.has(h)) queue.push(h);
          if (lang !== "en") await page.screenshot({ path: join(artifactsDir(), `i18n-${lang}-${user}-${href.replace(/[^a-z0-9]+/gi, "_")}.png`) });
          visited.push(`${user}${href}`);
        }
        page.assertNoErrors();
        await page.context().close();
      }
      if (!visited.some((v) => v.includes("#/agent"))) throw new Error(`no agent page visited: ${visited.join(" ")}`);
      console.log(`     (${lang}: ${visited.join(" ")})`);
    })()]);
    walks[walks.length - 1][1].catch(() => {}); // reported below
  }

  for (const [lang, walk] of walks) {
    await step(`${lang}: every other registered page renders without a missing key`, () => walk);
  }

  await step("the language picker switches the UI live and remembers the choice", async () => {
    const page = await newPage(browser, { locale: "en-US" });
    await login(page, srv.base, "minji", "agent-demo-pass");
    const ko = JSON.parse(readFileSync(join(i18nDir, "ko", "agent.json"), "utf8"));
    const zh = JSON.parse(readFileSync(join(i18nDir, "zh-CN", "agent.json"), "utf8"));
    await page.locator("#lang").selectOption("ko");
    await page.locator("#state-title", { hasText: ko.my_state }).waitFor();
    if ((await page.evaluate(() => document.documentElement.lang)) !== "ko") throw new Error("html lang");
    await page.reload();
    await page.locator("#state-title", { hasText: ko.my_state }).waitFor();
    // The browser's own languages pick the default when nothing is stored.
    const zhPage = await newPage(browser, { locale: "zh-CN" });
    await login(zhPage, srv.base, "minji", "agent-demo-pass");
    await zhPage.locator("#state-title", { hasText: zh.my_state }).waitFor();
    await assertNoMissing(page, "after switching");
    page.assertNoErrors();
    zhPage.assertNoErrors();
  });
});

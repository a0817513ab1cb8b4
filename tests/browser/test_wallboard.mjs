// Browser test of the supervisor wallboard (#/wallboard, web/js/pages/wallboard.js) against a
// real `blend serve` with the demo center: Sophia (supervisor) sees the demo queues and agents;
// Minji, driven through the API, goes ready, registers her phone (SIPp), is offered a contact
// injected through the API, accepts, ends and wraps up — each step shows live on the wallboard;
// the supervisor changes a waiting contact's priority, reassigns a waiting contact to another
// queue through the Reassign dialog by keyboard (focus trapped and returned, the row follows the
// stream, the stored interaction's queue changed) and sees a refused move's message in the
// dialog, ends a wrap-up and forces an agent's state from the page; alerts (long wait, service level, recognition) appear; she listens to a
// live phone call from her own phone, barges in and drops out (SIPp phones and customer); the
// call and its listener are listed again after a page reload (GET /api/v1/calls); agents'
// figures arrive pushed on the stream (no GET /stats/agents after the mount's); a priority
// changed through the API by another user shows on the open wallboard; an agent user opening
// #/wallboard gets "not allowed". The supervisor-side checks of the old
// console test (test_console.mjs) are all here. Screenshots of each screen.
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import {
  run, startServer, launchBrowser, newPage, login, step, screenshot, apiLogin, apiClient, waitFor,
  freePort, src, sleep,
} from "./lib.mjs";

await run(async () => {
  const srv = await startServer();
  const browser = await launchBrowser();
  const admin = apiClient(srv.base, await apiLogin(srv.base, "admin", "admin-demo-pass"));
  const minji = apiClient(srv.base, await apiLogin(srv.base, "minji", "agent-demo-pass"));
  const page = await newPage(browser);
  const queues = new Map((await admin("GET", "/api/v1/queues?limit=500")).body.items.map((q) => [q.name, q.id]));
  const agents = new Map((await admin("GET", "/api/v1/agents?limit=500")).body.items.map((a) => [a.name, a.id]));
  const minjiId = agents.get("minji");
  const queueRow = (name) => page.locator(`#wb-queues tbody tr[data-queue="${queues.get(name)}"]`);
  const agentRow = (name) => page.locator(`#wb-agents tbody tr[data-agent="${agents.get(name)}"]`);
  const contactRow = (id) => page.locator(`#wb-contacts tbody tr[data-interaction="${id}"]`);
  const register = (port, ext) => {
    const r = spawnSync("sipp", ["-sf", join(src, "tests", "sip", "register.xml"), "-m", "1",
      "-t", "u1", "-i", "127.0.0.1", "-p", String(port), "-s", ext, "-au", ext,
      "-ap", `sip-demo-${ext}`, "-key", "expires", "3600", "-d", "0", "-timeout", "10",
      "-timeout_error", "-nostdin", `127.0.0.1:${srv.sipPort}`], { cwd: srv.dir, timeout: 20000 });
    if (r.status !== 0) throw new Error(`SIPp registration of ${ext} failed (exit ${r.status})`);
  };
  const createContact = async (queue) => {
    const r = await admin("POST", "/api/v1/interactions", { channel: "voice", queue });
    if (r.status !== 201) throw new Error(`create interaction: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.id;
  };
  const presence = async () => (await admin("GET", `/api/v1/agents/${minjiId}/state`)).body;
  // The page's API requests, by path and query (playwright's request events).
  const requests = [];
  page.on("request", (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith("/api/")) requests.push(`${r.method()} ${u.pathname}${u.search}`);
  });
  const count = (re) => requests.filter((x) => re.test(x)).length;
  let agentStatsReads = 0; // GET /stats/agents made by the page once the wallboard was loaded

  await step("the supervisor opens the wallboard and sees the demo queues and agents", async () => {
    // Straight to the wallboard after the login (no other page's requests among the counted).
    await page.goto(srv.base + "/#/wallboard");
    await login(page, srv.base, "sophia", "super-demo-pass");
    await page.locator("#wallboard").waitFor({ timeout: 10000 });
    if (count(/^GET \/api\/v1\/stats\/agents/) > 1) throw new Error(`another page was mounted first: ${requests.join(", ")}`);
    await waitFor(async () => (await page.locator("#wb-queues tbody tr").count()) === 6, 10000, "the 6 demo queues");
    await waitFor(async () => (await page.locator("#wb-agents tbody tr").count()) === 7, 10000, "the 7 demo agents");
    await queueRow("billing").locator("th", { hasText: "Billing" }).waitFor();
    await agentRow("minji").locator(".a-name", { hasText: "Kim Minji" }).waitFor();
    await agentRow("minji").locator(".state", { hasText: "Logged out" }).waitFor();
    await page.locator("#stream-status[data-status=connected]").waitFor({ timeout: 10000 });
    // The calls in progress are read at mount; there are none yet, and the panel says so.
    if (!count(/^GET \/api\/v1\/calls$/)) throw new Error(`no GET /api/v1/calls: ${requests.join(", ")}`);
    await page.locator("#wb-no-calls", { hasText: "No phone call in progress." }).waitFor({ state: "visible" });
    if (await page.locator("#wb-calls").isVisible()) throw new Error("an empty calls table is shown");
    // The open interactions are asked for by state, not listed whole.
    for (const st of ["queued", "offered", "connected"]) {
      if (!count(new RegExp(`^GET /api/v1/interactions\\?state=${st}&`))) throw new Error(`no ?state=${st} list: ${requests.join(", ")}`);
    }
    if (count(/^GET \/api\/v1\/interactions\?limit/)) throw new Error("the page listed every interaction");
    agentStatsReads = count(/^GET \/api\/v1\/stats\/agents/);
    if (agentStatsReads < 1) throw new Error("the mount did not read the agents' figures");
    await screenshot(page, "wallboard-01-start");
  });

  await step("an agent user opening #/wallboard sees \"not allowed\"", async () => {
    const agentPage = await newPage(browser);
    await login(agentPage, srv.base, "minji", "agent-demo-pass");
    await agentPage.goto(srv.base + "/#/wallboard");
    await agentPage.locator("#not-allowed").waitFor({ timeout: 10000 });
    if (await agentPage.locator("#wallboard").count()) throw new Error("the wallboard was mounted for an agent");
    const navLinks = await agentPage.locator("#nav a").allTextContents();
    if (navLinks.some((x) => /Wallboard/.test(x))) throw new Error(`the nav offers the wallboard: ${navLinks}`);
    await screenshot(agentPage, "wallboard-02-agent-not-allowed");
    agentPage.assertNoErrors();
    await agentPage.context().close();
  });

  await step("a phone registering (SIPp as Minji's extension) shows live", async () => {
    await agentRow("minji").locator("td.phone-down", { hasText: "not registered" }).waitFor({ timeout: 10000 });
    register(await freePort(), "1001");
    await agentRow("minji").locator("td.phone-up", { hasText: "registered" }).waitFor({ timeout: 10000 });
  });

  let waitingId;
  await step("a contact injected through the API raises the waiting count live and is listed", async () => {
    await queueRow("korean-support").locator("td.q-waiting", { hasText: /^0$/ }).waitFor({ timeout: 10000 });
    waitingId = await createContact("korean-support");
    await queueRow("korean-support").locator("td.q-waiting", { hasText: /^1$/ }).waitFor({ timeout: 3000 });
    await contactRow(waitingId).locator("td.c-state", { hasText: "waiting" }).waitFor({ timeout: 3000 });
    await waitFor(async () => /^0:0[1-9]/.test(await contactRow(waitingId).locator("td.c-waited").textContent()), 5000, "the wait ticking");
    await screenshot(page, "wallboard-03-waiting");
  });

  await step("the supervisor changes the waiting contact's priority", async () => {
    const row = contactRow(waitingId);
    await row.locator("input.c-prio-input").fill("50");
    await row.getByRole("button", { name: "Set priority" }).click();
    // korean-support has priority 15: effective priority 15 + 50.
    await row.locator("td.c-priority", { hasText: /^65$/ }).waitFor({ timeout: 5000 });
    const r = await admin("GET", `/api/v1/interactions/${waitingId}/routing`);
    if (r.body.priority !== 65) throw new Error(`the API says priority ${r.body.priority}`);
  });

  await step("a priority changed through the API by another user shows on the open wallboard", async () => {
    const row = contactRow(waitingId);
    const p = await admin("POST", `/api/v1/interactions/${waitingId}/priority`, { priority: 120 });
    if (p.status !== 200) throw new Error(`priority: ${p.status} ${JSON.stringify(p.body)}`);
    // contact.priority carries the contact's own priority (the box); the page re-reads the
    // effective one (15 + 120) from the contact's routing view.
    await row.locator("td.c-priority", { hasText: /^135$/ }).waitFor({ timeout: 5000 });
    await waitFor(async () => (await row.locator("input.c-prio-input").inputValue()) === "120", 5000, "the own priority in the box");
  });

  await step("a bad priority shows the API's error", async () => {
    const row = contactRow(waitingId);
    await row.locator("input.c-prio-input").fill("5000");
    await row.getByRole("button", { name: "Set priority" }).click();
    await page.locator("#wb-error", { hasText: "The action failed" }).waitFor({ timeout: 5000 });
  });

  // Reassign (docs/routing.md, Moving a waiting contact): nobody serving tech-support or billing
  // is ready, so the contact waits in each; the move goes through the dialog by keyboard.
  let movedId;
  const dialog = page.locator("#wb-reassign");
  const focusedId = () => page.evaluate(() => document.activeElement?.id || document.activeElement?.className || "");
  await step("reassign by keyboard: a waiting contact moves to another queue through the dialog", async () => {
    movedId = await createContact("tech-support");
    const row = contactRow(movedId);
    await row.locator("td.c-queue", { hasText: "Technical support" }).waitFor({ timeout: 5000 });
    // Reachable by Tab: from the row's Set priority button to its Reassign button, Enter opens.
    await row.getByRole("button", { name: "Set priority" }).focus();
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(() => document.activeElement?.getAttribute("aria-label"));
    if (focused !== `Reassign interaction ${movedId}`) throw new Error(`Tab reached ${focused}`);
    await page.keyboard.press("Enter");
    await dialog.waitFor({ state: "visible", timeout: 5000 });
    if ((await dialog.getAttribute("aria-labelledby")) !== "wb-reassign-title") throw new Error("the dialog has no name");
    await page.getByRole("dialog", { name: `Reassign interaction #${movedId}` }).waitFor({ timeout: 3000 });
    if ((await focusedId()) !== "wb-reassign-target") throw new Error(`focus is on ${await focusedId()}, not the first field`);
    await page.locator("#wb-reassign-info", { hasText: "Waiting in Technical support" }).waitFor({ timeout: 3000 });
    // Voice queues only (not Web chat or Email); agents with their state.
    const options = await page.locator("#wb-reassign-target option").allTextContents();
    if (options.some((o) => /Web chat|^Email$/.test(o))) throw new Error(`a queue of another channel is offered: ${options}`);
    if (!options.includes("Billing")) throw new Error(`no Billing among ${options}`);
    if (!options.some((o) => /^Lee Jiho — Logged out/.test(o))) throw new Error(`agents without their state: ${options}`);
    if (!options.some((o) => /^Technical support \(its queue now/.test(o))) throw new Error(`the current queue is not marked: ${options}`);
    // Focus is trapped: Tab from the last control (Cancel) comes back to the first field.
    await page.locator("#wb-reassign-cancel").focus();
    await page.keyboard.press("Tab");
    if ((await focusedId()) !== "wb-reassign-target") throw new Error(`Tab left the dialog: ${await focusedId()}`);
    await page.keyboard.press("Shift+Tab");
    if ((await focusedId()) !== "wb-reassign-cancel") throw new Error(`Shift+Tab went to ${await focusedId()}`);
    await page.locator("#wb-reassign-target").selectOption({ label: "Billing" });
    await screenshot(page, "wallboard-03b-reassign");
    // Tab from the field to Move, Enter moves.
    await page.locator("#wb-reassign-target").focus();
    await page.keyboard.press("Tab");
    if ((await focusedId()) !== "wb-reassign-submit") throw new Error(`Tab from the field went to ${await focusedId()}`);
    await page.keyboard.press("Enter");
    await dialog.waitFor({ state: "hidden", timeout: 5000 });
    // The row follows the stream (contact.queued, "moved": true), without a reload.
    await row.locator("td.c-queue", { hasText: /^Billing$/ }).waitFor({ timeout: 5000 });
    await row.locator("td.c-state", { hasText: "waiting" }).waitFor({ timeout: 3000 });
    // The queues' figures come with the stream's push, every 5 s.
    await queueRow("billing").locator("td.q-waiting", { hasText: /^1$/ }).waitFor({ timeout: 12000 });
    await queueRow("tech-support").locator("td.q-waiting", { hasText: /^0$/ }).waitFor({ timeout: 12000 });
    // billing has priority 10: the effective priority is re-read for the new queue.
    await row.locator("td.c-priority", { hasText: /^10$/ }).waitFor({ timeout: 5000 });
    await page.locator("#wb-live-status", { hasText: `Interaction #${movedId} moved to Billing.` }).waitFor({ state: "attached", timeout: 3000 });
    // Focus went back to the row's Reassign button.
    const back = await page.evaluate(() => document.activeElement?.getAttribute("aria-label"));
    if (back !== `Reassign interaction ${movedId}`) throw new Error(`focus returned to ${back}`);
    const stored = await admin("GET", `/api/v1/interactions/${movedId}`);
    if (stored.body.queue !== "billing" || stored.body.state !== "queued") throw new Error(`stored: ${JSON.stringify(stored.body)}`);
    const routing = await admin("GET", `/api/v1/interactions/${movedId}/routing`);
    if (routing.body.queue_id !== queues.get("billing")) throw new Error(`routing: ${JSON.stringify(routing.body)}`);
  });

  await step("a refused move (to a logged-out agent) shows the API's message in the dialog; Escape closes it", async () => {
    const row = contactRow(movedId);
    await row.getByRole("button", { name: "Reassign" }).click();
    await dialog.waitFor({ state: "visible", timeout: 5000 });
    await page.locator("#wb-reassign-target").selectOption(`a:${agents.get("jiho")}`);
    await page.locator("#wb-reassign-submit").click();
    await page.locator("#wb-reassign-error", { hasText: "The move was refused: not allowed in the current state" }).waitFor({ timeout: 5000 });
    await page.locator("#wb-reassign-error", { hasText: "The agent may be logged out" }).waitFor({ timeout: 1000 });
    if (!(await dialog.isVisible())) throw new Error("the dialog closed on a refusal");
    await screenshot(page, "wallboard-03c-reassign-refused");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden", timeout: 3000 });
    const back = await page.evaluate(() => document.activeElement?.getAttribute("aria-label"));
    if (back !== `Reassign interaction ${movedId}`) throw new Error(`focus returned to ${back}`);
    const stored = await admin("GET", `/api/v1/interactions/${movedId}`);
    if (stored.body.queue !== "billing") throw new Error(`the refused move changed the queue: ${stored.body.queue}`);
    // Out of the way of the steps below (Minji takes billing): the customer hangs up.
    const ab = await admin("POST", `/api/v1/interactions/${movedId}/abandon`);
    if (ab.status !== 200) throw new Error(`abandon: ${ab.status}`);
    await row.waitFor({ state: "detached", timeout: 5000 });
  });

  await step("the agent goes ready, is offered the contact and accepts: the wallboard shows her busy", async () => {
    const r = await minji("POST", `/api/v1/agents/${minjiId}/state`, { state: "ready" });
    if (r.status !== 200) throw new Error(`ready: ${r.status}`);
    await waitFor(async () => (await admin("GET", `/api/v1/interactions/${waitingId}/routing`)).body.state === "offered", 10000, "the offer");
    await contactRow(waitingId).locator("td.c-state", { hasText: "offered to Kim Minji" }).waitFor({ timeout: 5000 });
    const a = await minji("POST", `/api/v1/interactions/${waitingId}/accept`);
    if (a.status !== 200) throw new Error(`accept: ${a.status} ${JSON.stringify(a.body)}`);
    await agentRow("minji").locator(".state", { hasText: "Busy" }).waitFor({ timeout: 5000 });
    await agentRow("minji").locator("td.a-current", { hasText: `#${waitingId}` }).waitFor({ timeout: 5000 });
    await contactRow(waitingId).waitFor({ state: "detached", timeout: 5000 });
    await queueRow("korean-support").locator("td.q-waiting", { hasText: /^0$/ }).waitFor({ timeout: 3000 });
    await screenshot(page, "wallboard-04-busy");
  });

  await step("the contact ends: wrap-up shows, and the supervisor ends the wrap-up", async () => {
    const e = await minji("POST", `/api/v1/interactions/${waitingId}/end`);
    if (e.status !== 200) throw new Error(`end: ${e.status}`);
    const row = agentRow("minji");
    await row.locator(".state", { hasText: "Wrap-up" }).waitFor({ timeout: 5000 });
    await row.locator("td.a-current", { hasText: /^–$/ }).waitFor({ timeout: 5000 });
    await row.getByRole("button", { name: "End wrap-up" }).click();
    await row.locator(".state", { hasText: /^Ready$/ }).waitFor({ timeout: 5000 });
    if ((await presence()).state !== "ready") throw new Error("the API does not say ready");
  });

  await step("the supervisor sees live queue figures (pushed every 5 s)", async () => {
    const row = queueRow("korean-support");
    await row.locator("td.q-offered", { hasText: "1 / 1" }).waitFor({ timeout: 20000 });
    // Minji is the one Korean-support agent logged in, and its calendar is open.
    await row.locator("td.q-staff", { hasText: "1 / 0 / 0" }).waitFor({ timeout: 20000 });
    await row.locator("td.q-hours.hours-open", { hasText: "open" }).waitFor({ timeout: 20000 });
    await row.locator("td.q-sl", { hasText: "100%" }).waitFor({ timeout: 20000 });
  });

  await step("not ready with a reason (set by the agent) reaches the wallboard with the reason", async () => {
    await minji("POST", `/api/v1/agents/${minjiId}/state`, { state: "not-ready", reason: "lunch" });
    await agentRow("minji").locator(".state", { hasText: "Not ready (lunch)" }).waitFor({ timeout: 5000 });
  });

  await step("the supervisor forces the agent's state from the wallboard", async () => {
    const row = agentRow("minji");
    await row.getByLabel("New state for Kim Minji").selectOption("ready");
    await row.getByRole("button", { name: "Set state" }).click();
    await row.locator(".state", { hasText: /^Ready$/ }).waitFor({ timeout: 5000 });
    await row.getByLabel("New state for Kim Minji").selectOption("not-ready:break");
    await row.getByRole("button", { name: "Set state" }).click();
    await row.locator(".state", { hasText: "Not ready (break)" }).waitFor({ timeout: 5000 });
    const p = await presence();
    if (p.state !== "not-ready" || p.reason !== "break") throw new Error(`the API says ${JSON.stringify(p)}`);
    await screenshot(page, "wallboard-05-forced");
  });

  await step("alerts: a long wait, a service level below target, and a recognition", async () => {
    // Thresholds for the test: a wait over 1 s alerts; one handled contact meets the targets.
    await page.locator("#wb-set-wait_alert_s").fill("1");
    await page.locator("#wb-set-target_handled").fill("1");
    await page.locator("#wb-set-target_aht_s").fill("3600");
    await page.getByRole("button", { name: "Save thresholds" }).click();
    const id = await createContact("tech-support"); // nobody serving it is logged in
    await page.locator("#wb-alerts li.alert-wait", { hasText: "Technical support" }).waitFor({ timeout: 10000 });
    await page.locator("#wb-live-alert", { hasText: "Technical support" }).waitFor({ timeout: 5000 });
    await queueRow("tech-support").and(page.locator("tr.alerting")).waitFor({ timeout: 5000 });
    // Abandoned after the 5 s short-abandon threshold: an abandon, so the service level is 0 %.
    await sleep(6000);
    const ab = await admin("POST", `/api/v1/interactions/${id}/abandon`);
    if (ab.status !== 200) throw new Error(`abandon: ${ab.status}`);
    await page.locator("#wb-alerts li.alert-sl", { hasText: "Technical support" }).waitFor({ timeout: 15000 });
    await page.locator("#wb-alerts li.alert-wait").waitFor({ state: "detached", timeout: 10000 });
    // Agent figures come with the 5-second stats push: Minji's handled contact (after the
    // mount) arrives without the page asking GET /stats/agents again.
    await page.locator("#wb-alerts li.alert-recognition", { hasText: "Kim Minji" }).waitFor({ timeout: 15000 });
    await agentRow("minji").and(page.locator("tr.recognized")).waitFor({ timeout: 5000 });
    await agentRow("minji").locator("td.a-handled", { hasText: /^1$/ }).waitFor({ timeout: 5000 });
    const reads = count(/^GET \/api\/v1\/stats\/agents/);
    if (reads !== agentStatsReads) throw new Error(`GET /stats/agents after the mount: ${reads - agentStatsReads}`);
    await screenshot(page, "wallboard-06-alerts");
  });

  await step("the chart has points and describes the figures", async () => {
    await page.locator("#wb-chart-queue").selectOption(String(queues.get("korean-support")));
    // (A flat line has no height, so "attached", not "visible".)
    await page.locator("#wb-chart polyline.wb-line-waiting").waitFor({ state: "attached", timeout: 5000 });
    await page.locator("#wb-chart polyline.wb-line-sl").waitFor({ state: "attached", timeout: 5000 });
    await page.locator("#wb-chart-summary", { hasText: "service level today: 100%" }).waitFor({ timeout: 5000 });
  });

  await step("the supervisor listens to a live call from her phone, barges in and drops out", async () => {
    await minji("POST", `/api/v1/agents/${minjiId}/state`, { state: "ready" });
    await agentRow("minji").locator(".state", { hasText: /^Ready$/ }).waitFor({ timeout: 5000 });
    // SIPp plays Minji's phone and Sophia's (each registered, then answering with RTP echo)
    // and the customer dialling the billing line.
    const answer = async (port, ext) => spawn("sipp", ["-sf", join(src, "tests", "sip", "agent_answer.xml"),
      "-m", "1", "-t", "u1", "-i", "127.0.0.1", "-p", String(port), "-mp", String(await freePort()),
      "-s", ext, "-key", "codec", "8", "-d", "0", "-rtp_echo", "-timeout", "40", "-nostdin",
      "127.0.0.1:9"], { cwd: srv.dir, stdio: "ignore" });
    const exited = (p) => new Promise((resolve) => p.on("exit", (code) => resolve(code)));
    const minjiPort = await freePort();
    const sophiaPort = await freePort();
    register(minjiPort, "1001");
    register(sophiaPort, "1007");
    const minjiPhone = await answer(minjiPort, "1001");
    const sophiaPhone = await answer(sophiaPort, "1007");
    const minjiDone = exited(minjiPhone);
    const sophiaDone = exited(sophiaPhone);
    await sleep(300);
    const customer = spawn("sipp", ["-sf", join(src, "tests", "sip", "customer_call.xml"), "-m", "1",
      "-t", "u1", "-i", "127.0.0.1", "-s", "+8225550101", "-key", "caller", "5551234", "-mp",
      String(await freePort()), "-d", "16000", "-timeout", "40", "-nostdin", `127.0.0.1:${srv.sipPort}`],
    { cwd: srv.dir, stdio: "ignore" });
    const customerDone = exited(customer);
    const row = page.locator("#wb-calls tbody tr", { hasText: "Kim Minji" });
    await row.waitFor({ timeout: 15000 });
    await row.getByRole("button", { name: "Listen" }).click();
    await row.locator("td.party-listen", { hasText: "Listen (connected)" }).waitFor({ timeout: 10000 });
    await screenshot(page, "wallboard-07-listening");
    // A reload knows the call and its listener from GET /api/v1/calls (no event repeats them).
    const callsBefore = count(/^GET \/api\/v1\/calls$/);
    await page.reload();
    await page.locator("#wallboard").waitFor({ timeout: 10000 });
    await row.locator("td.party-listen", { hasText: "Listen (connected)" }).waitFor({ timeout: 5000 });
    if (count(/^GET \/api\/v1\/calls$/) <= callsBefore) throw new Error("the reload did not read /api/v1/calls");
    await screenshot(page, "wallboard-07b-reloaded");
    await row.getByRole("button", { name: "Barge" }).click();
    await row.locator("td.party-barge", { hasText: "Barge (connected)" }).waitFor({ timeout: 10000 });
    await row.getByRole("button", { name: "Drop" }).click();
    await row.locator("td.k-party", { hasText: /^–$/ }).waitFor({ timeout: 10000 });
    if ((await sophiaDone) !== 0) throw new Error("Sophia's phone did not answer and get BYE");
    if ((await customerDone) !== 0) throw new Error("the customer's call did not run to its end");
    if ((await minjiDone) !== 0) throw new Error("Minji's phone did not answer and get BYE");
    await row.waitFor({ state: "detached", timeout: 10000 });
  });

  await step("after a server restart the wallboard reconnects, reloads and follows the stream again", async () => {
    await srv.stop();
    await page.locator("#stream-status[data-status=reconnecting]").waitFor({ timeout: 10000 });
    await srv.start();
    // The stream retries with a backoff of up to 10 s.
    await page.locator("#stream-status[data-status=connected]").waitFor({ timeout: 30000 });
    // The restarted server restores the agents from its log; the page reloaded its data.
    await waitFor(async () => (await page.locator("#wb-agents tbody tr").count()) === 7, 10000, "the agents after the resync");
    const r = await minji("POST", `/api/v1/agents/${minjiId}/state`, { state: "not-ready", reason: "meeting" });
    if (r.status !== 200) throw new Error(`not ready after the restart: ${r.status}`);
    // Minji may still be in the wrap-up of the call above: not ready applies when it ends.
    await minji("POST", `/api/v1/agents/${minjiId}/wrapup-end`);
    await agentRow("minji").locator(".state", { hasText: "Not ready (meeting)" }).waitFor({ timeout: 10000 });
    await screenshot(page, "wallboard-08-after-restart");
  });

  await step("the wallboard in Korean and Chinese: every text translated", async () => {
    for (const [lang, title] of [["ko", "상담사"], ["zh-CN", "坐席"]]) {
      await page.locator("#lang").selectOption(lang);
      await page.locator("#wb-agents-panel-title", { hasText: title }).waitFor({ timeout: 10000 });
      await waitFor(async () => (await page.locator("#wb-agents tbody tr").count()) === 7, 10000, "the agents");
      await screenshot(page, `wallboard-09-${lang}`);
    }
    await page.locator("#lang").selectOption("en");
    await page.locator("#wb-agents-panel-title", { hasText: "Agents" }).waitFor({ timeout: 10000 });
  });

  await step("the page ran without script errors and without missing translations", async () => {
    page.assertNoErrors();
    const missing = await page.evaluate(() => [...window.__blendMissingKeys]);
    if (missing.length) throw new Error(`missing keys: ${missing.join(", ")}`);
  });
});

// Browser test of the admin pages (#/admin/<section>, web/js/pages/admin/*.js) against a real
// `blend serve` with the demo center: the admin creates a skill and a queue through the forms;
// a bad value shows the API's field error beside its field; a change made elsewhere meanwhile
// gives the version-conflict explanation; a flow uploaded as a JSON file with an error shows the
// node's error when validated (POST /flows?dry_run=1, nothing stored), and a good one saves; the
// audit log opens on the newest change and pages back; a supervisor reads but cannot write (and
// has no audit log); an agent cannot open #/admin/*; a canned response with an unknown
// placeholder shows the error beside its text, then saves. Screenshots of each screen.
import {
  run, startServer, launchBrowser, newPage, login, step, screenshot, apiLogin, apiClient, waitFor,
} from "./lib.mjs";

await run(async () => {
  const srv = await startServer();
  const browser = await launchBrowser();
  const admin = apiClient(srv.base, await apiLogin(srv.base, "admin", "admin-demo-pass"));
  const page = await newPage(browser);
  const field = (key) => page.locator(`#admin-form [data-field="${key}"]`);
  const open = async (section) => {
    await page.goto(`${srv.base}/#/admin/${section}`);
    await page.locator(section === "audit" ? "#audit-list" : "#admin-list").waitFor({ timeout: 10000 });
  };

  await step("the admin opens the skills section and sees the demo skills", async () => {
    await login(page, srv.base, "admin", "admin-demo-pass");
    await open("skills");
    await page.locator("#admin-list tbody tr", { hasText: "billing" }).waitFor({ timeout: 10000 });
    const n = await page.locator("#admin-list tbody tr").count();
    if (n !== 6) throw new Error(`expected the 6 demo skills, saw ${n}`);
    await screenshot(page, "admin-01-skills");
  });

  await step("a bad skill name shows the API's error beside the name field", async () => {
    await page.locator("#admin-new").click();
    await page.getByLabel("Name", { exact: true }).fill("Bad Name");
    await page.locator("#admin-save").click();
    await field("name").locator(".field-error", { hasText: "may hold only" }).waitFor({ timeout: 5000 });
    const invalid = await page.getByLabel("Name", { exact: true }).getAttribute("aria-invalid");
    if (invalid !== "true") throw new Error("the name field is not marked invalid");
    const described = await page.getByLabel("Name", { exact: true }).getAttribute("aria-describedby");
    if (!described.includes("f-skills-name-error")) throw new Error(`aria-describedby is ${described}`);
    await screenshot(page, "admin-02-skill-error");
  });

  await step("the admin creates a skill through the form", async () => {
    await page.getByLabel("Name", { exact: true }).fill("french");
    await page.getByLabel("Description").fill("French speakers");
    await page.locator("#admin-save").click();
    await page.locator("#admin-status", { hasText: "french created" }).waitFor({ timeout: 5000 });
    await page.locator("#admin-list tbody tr", { hasText: "french" }).waitFor({ timeout: 5000 });
    const list = (await admin("GET", "/api/v1/skills?limit=500")).body.items;
    const s = list.find((x) => x.name === "french");
    if (!s || s.description !== "French speakers") throw new Error("the API has no such skill");
  });

  await step("the admin creates a queue through the form (skills, channels, routing settings)", async () => {
    await open("queues");
    await page.locator("#admin-new").click();
    await page.getByLabel("Name", { exact: true }).fill("french-support");
    await page.getByLabel("Display name").fill("French support");
    await page.getByLabel("chat", { exact: true }).check();
    await page.locator("#f-queues-skills-add").click();
    await page.getByLabel("Skill 1", { exact: true }).selectOption("french");
    await page.getByLabel("Minimum proficiency of skill 1").fill("5");
    await page.getByLabel("Strategy", { exact: true }).selectOption("most-skilled");
    await page.getByLabel("Service level target (%)").fill("90");
    await page.getByLabel("Calendar").selectOption("around-the-clock");
    await screenshot(page, "admin-03-queue-form");
    await page.locator("#admin-save").click();
    await page.locator("#admin-status", { hasText: "french-support created" }).waitFor({ timeout: 5000 });
    const q = (await admin("GET", "/api/v1/queues?limit=500")).body.items.find((x) => x.name === "french-support");
    if (!q) throw new Error("the API has no such queue");
    const want = { strategy: "most-skilled", sla_percent: 90, calendar: "around-the-clock", display_name: "French support" };
    for (const [k, v] of Object.entries(want)) if (q[k] !== v) throw new Error(`${k} is ${q[k]}, not ${v}`);
    if (JSON.stringify(q.channels) !== JSON.stringify(["voice", "chat"])) throw new Error(`channels ${q.channels}`);
    if (q.skills[0]?.skill !== "french" || q.skills[0]?.min_proficiency !== 5) throw new Error(`skills ${JSON.stringify(q.skills)}`);
  });

  await step("a bad routing value shows the API's error beside its field", async () => {
    // The form of the queue just saved is open for editing.
    await page.locator("#admin-form-title", { hasText: "Edit french-support" }).waitFor({ timeout: 5000 });
    await page.getByLabel("Service level target (%)").fill("500");
    await page.getByLabel("Minimum proficiency of skill 1").fill("11");
    await page.locator("#admin-save").click();
    await field("sla_percent").locator(".field-error", { hasText: "must be between 1 and 100" }).waitFor({ timeout: 5000 });
    await field("skills").locator(".field-error", { hasText: "skills[0].min_proficiency" }).waitFor({ timeout: 5000 });
    await page.locator("#admin-form-error", { hasText: "failed validation" }).waitFor();
    await screenshot(page, "admin-04-queue-errors");
  });

  await step("a change made elsewhere meanwhile is explained (version conflict), then reloaded", async () => {
    await page.getByLabel("Service level target (%)").fill("85");
    await page.getByLabel("Minimum proficiency of skill 1").fill("6");
    const q = (await admin("GET", "/api/v1/queues?limit=500")).body.items.find((x) => x.name === "french-support");
    const r = await admin("PATCH", `/api/v1/queues/${q.id}`, { wrap_up_s: 10 });
    if (r.status !== 200) throw new Error(`PATCH elsewhere: ${r.status}`);
    await page.locator("#admin-save").click();
    await page.locator("#admin-form-error", { hasText: "someone changed this since you opened it" }).waitFor({ timeout: 5000 });
    await screenshot(page, "admin-05-version-conflict");
    await page.locator("#admin-reload-version").click();
    await page.locator("#admin-version", { hasText: "Version 2," }).waitFor({ timeout: 5000 });
    if (await page.getByLabel("Wrap-up (seconds)").inputValue() !== "10") throw new Error("the reloaded form lacks the other change");
    await page.getByLabel("Service level target (%)").fill("85");
    await page.locator("#admin-save").click();
    await page.locator("#admin-status", { hasText: "french-support saved (version 3)" }).waitFor({ timeout: 5000 });
  });

  await step("a flow uploaded with an error: Validate shows the node's error and stores nothing; fixed, it saves", async () => {
    await open("flows");
    await page.locator("#admin-new").click();
    const bad = { name: "french-line", description: "French line", language: "en", start: "hello",
      nodes: { hello: { type: "play", next: "bye" }, bye: { type: "hangup" } } };
    await page.getByLabel("Load a flow from a JSON file").setInputFiles({
      name: "french-line.json", mimeType: "application/json", buffer: Buffer.from(JSON.stringify(bad)),
    });
    await page.locator("#admin-status", { hasText: "french-line.json loaded" }).waitFor({ timeout: 5000 });
    if (await page.getByLabel("Start node").inputValue() !== "hello") throw new Error("the upload did not fill the form");
    const dryRuns = [];
    const onRequest = (r) => {
      if (r.url().includes("/api/v1/flows?dry_run=1")) dryRuns.push(r.method());
    };
    page.on("request", onRequest);
    // Validate asks the server (a dry run): a play node needs text or a file.
    await page.locator("#admin-validate").click();
    await field("nodes").locator('.node-errors li[data-node="hello"]', { hasText: "Node hello, text" }).waitFor({ timeout: 5000 });
    if (await page.getByLabel("Nodes", { exact: true }).getAttribute("aria-invalid") !== "true") throw new Error("Nodes is not marked invalid");
    if (dryRuns.join() !== "POST") throw new Error(`dry-run requests: ${dryRuns}`);
    await screenshot(page, "admin-06-flow-node-error");
    const stored = async () => (await admin("GET", "/api/v1/flows?limit=500")).body.items.find((x) => x.name === "french-line");
    if (await stored()) throw new Error("Validate stored the flow");
    const nodes = page.getByLabel("Nodes", { exact: true });
    const fixed = { ...bad.nodes, hello: { type: "play", text: "Bonjour", next: "bye" } };
    await nodes.fill(JSON.stringify(fixed, null, 2));
    // A start that names no node is the server's error too, beside the Start node field.
    await page.getByLabel("Start node").fill("nowhere");
    await page.locator("#admin-validate").click();
    await field("start").locator(".field-error", { hasText: "unknown node 'nowhere'" }).waitFor({ timeout: 5000 });
    if (await field("nodes").locator(".node-errors li").count()) throw new Error("the fixed node's error is still shown");
    await page.getByLabel("Start node").fill("hello");
    await page.locator("#admin-validate").click();
    await page.locator("#admin-status", { hasText: "found no error" }).waitFor({ timeout: 5000 });
    if (await page.locator("#admin-form .field-error li, #admin-form .field-error div").count()) throw new Error("errors are still shown");
    if (await stored()) throw new Error("Validate stored the flow");
    page.off("request", onRequest);
    if (dryRuns.length !== 3) throw new Error(`dry-run requests: ${dryRuns}`);
    await page.locator("#admin-save").click();
    await page.locator("#admin-status", { hasText: "french-line created" }).waitFor({ timeout: 5000 });
    const f = await stored();
    if (!f || f.nodes.hello.text !== "Bonjour") throw new Error("the API has no such flow");
  });

  await step("invalid JSON in a JSON field is reported beside it", async () => {
    await page.getByLabel("Nodes", { exact: true }).fill("{ not json");
    await page.locator("#admin-save").click();
    await field("nodes").locator(".field-error", { hasText: "Not valid JSON" }).waitFor({ timeout: 5000 });
  });

  await step("canned responses: an unknown placeholder shows the error beside the text; fixed, it saves", async () => {
    await open("canned_responses");
    await page.locator("#admin-list tbody tr", { hasText: "greeting-ko" }).waitFor({ timeout: 10000 });
    await page.locator("#admin-list tbody tr", { hasText: "closing" }).locator("td", { hasText: "chat-support" }).waitFor();
    await page.locator("#admin-new").click();
    await page.getByLabel("Name", { exact: true }).fill("delay");
    await page.getByLabel("Title", { exact: true }).fill("Delivery delay");
    await page.getByLabel("Text", { exact: true }).fill("Sorry {customer_name}, order {order_id} is late.");
    await page.getByLabel("Language", { exact: true }).fill("en");
    await field("channels").getByLabel("chat", { exact: true }).check();
    await field("queues").getByLabel("chat-support", { exact: true }).check();
    await page.locator("#admin-save").click();
    await field("body").locator(".field-error", { hasText: "unknown placeholder {order_id}" }).waitFor({ timeout: 5000 });
    if ((await page.getByLabel("Text", { exact: true }).getAttribute("aria-invalid")) !== "true") {
      throw new Error("the text field is not marked invalid");
    }
    const list = await admin("GET", "/api/v1/canned_responses?name=delay");
    if (list.body.items.length !== 0) throw new Error("a refused canned response was stored");
    await screenshot(page, "admin-06b-canned-error");
    await page.getByLabel("Text", { exact: true }).fill("Sorry {customer_name}, your order is late. — {agent_name}");
    await page.locator("#admin-save").click();
    await page.locator("#admin-status", { hasText: "delay" }).waitFor({ timeout: 5000 });
    const made = (await admin("GET", "/api/v1/canned_responses?name=delay")).body.items[0];
    if (!made || made.title !== "Delivery delay" || made.language !== "en"
      || JSON.stringify(made.channels) !== '["chat"]' || JSON.stringify(made.queues) !== '[{"queue":"chat-support"}]') {
      throw new Error(`stored: ${JSON.stringify(made)}`);
    }
    await page.locator("#admin-list tbody tr", { hasText: "Delivery delay" }).waitFor();
  });

  await step("every section opens with its list and form", async () => {
    for (const s of ["users", "agents", "calendars", "entry-points"]) {
      await open(s);
      await page.locator("#admin-list tbody tr").first().waitFor({ timeout: 5000 });
      await page.locator("#admin-list tbody tr").first().locator("button.admin-edit").click();
      await page.locator("#admin-form").waitFor({ timeout: 5000 });
      await screenshot(page, `admin-07-${s}`);
    }
  });

  await step("the audit log opens on the newest change and pages back", async () => {
    // Changes through the API just before (enough for a second page of 50): the last one must
    // be the first row.
    const sk = (await admin("GET", "/api/v1/skills?limit=500")).body.items.find((x) => x.name === "french");
    for (let i = 1; i <= 20; i++) {
      const r = await admin("PATCH", `/api/v1/skills/${sk.id}`, { description: `Francophones ${i}` });
      if (r.status !== 200) throw new Error(`PATCH skill: ${r.status}`);
    }
    await open("audit");
    const rows = page.locator("#audit-list tbody tr");
    await rows.first().waitFor({ timeout: 5000 });
    const first = rows.first();
    for (const text of ["skills", "update", String(sk.id)]) {
      if (!(await first.textContent()).includes(text)) throw new Error(`the first row is not the skill's update: ${await first.textContent()}`);
    }
    const ids = (await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.dataset.id))));
    if (ids.some((id, i) => i > 0 && id >= ids[i - 1])) throw new Error(`not newest first: ${ids}`);
    const audit = (await admin("GET", "/api/v1/audit?order=desc&limit=1")).body.items[0];
    if (ids[0] !== audit.id) throw new Error(`the first row is ${ids[0]}, the newest entry ${audit.id}`);
    // The earlier changes are there too.
    await rows.filter({ hasText: "skills" }).filter({ hasText: "admin" }).filter({ hasText: "create" }).first().waitFor({ timeout: 5000 });
    await rows.filter({ hasText: "queues" }).filter({ hasText: "update" }).first().waitFor({ timeout: 5000 });
    await rows.filter({ hasText: "flows" }).filter({ hasText: "create" }).first().waitFor({ timeout: 5000 });
    if (await page.locator("#audit-newer").isEnabled()) throw new Error("Newer is enabled on the newest page");
    await screenshot(page, "admin-08-audit");
    if (ids.length !== 50) throw new Error(`the first page has ${ids.length} entries`);
    await page.locator("#audit-older").click();
    await page.locator("#audit-status", { hasText: /^Page 2/ }).waitFor({ timeout: 5000 });
    const older = await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.dataset.id)));
    if (!older.length || Math.max(...older) >= Math.min(...ids)) throw new Error(`page 2 is not older: ${older}`);
    await page.locator("#audit-newer").click();
    await page.locator("#audit-status", { hasText: /^Page 1/ }).waitFor({ timeout: 5000 });
  });

  await step("a supervisor reads the configuration but cannot change it, and has no audit log", async () => {
    const sup = await newPage(browser);
    await login(sup, srv.base, "sophia", "super-demo-pass");
    await sup.goto(`${srv.base}/#/admin/skills`);
    await sup.locator("#admin-read-only").waitFor({ timeout: 10000 });
    if (await sup.locator("#admin-new").count()) throw new Error("a supervisor is offered New");
    if (await sup.locator("button.admin-delete").count()) throw new Error("a supervisor is offered Delete");
    await sup.locator("#admin-list tbody tr").first().locator("button.admin-edit", { hasText: "View" }).click();
    if (await sup.locator("#admin-save").count()) throw new Error("a supervisor is offered Save");
    if (await sup.locator(".admin-nav a", { hasText: "Audit log" }).count()) throw new Error("the audit log is in a supervisor's nav");
    await sup.goto(`${srv.base}/#/admin/audit`);
    await sup.locator("#not-allowed").waitFor({ timeout: 10000 });
    await screenshot(sup, "admin-09-supervisor");
    sup.assertNoErrors();
    await sup.context().close();
  });

  await step("an agent cannot open #/admin/*", async () => {
    const ag = await newPage(browser);
    await login(ag, srv.base, "minji", "agent-demo-pass");
    for (const s of ["skills", "queues", "audit"]) {
      await ag.goto(`${srv.base}/#/admin/${s}`);
      await ag.locator("#not-allowed").waitFor({ timeout: 10000 });
      if (await ag.locator("#admin").count()) throw new Error(`the admin page mounted for an agent (${s})`);
    }
    await screenshot(ag, "admin-10-agent-not-allowed");
    ag.assertNoErrors();
    await ag.context().close();
  });

  await step("the admin pages in Korean and Chinese: every text translated", async () => {
    for (const [lang, title] of [["ko", "대기열"], ["zh-CN", "队列"]]) {
      await page.locator("#lang").selectOption(lang);
      for (const s of ["queues", "flows", "canned_responses", "audit"]) {
        await page.goto(`${srv.base}/#/admin/${s}`);
        await page.locator(s === "audit" ? "#audit-list tbody tr" : "#admin-list tbody tr").first().waitFor({ timeout: 10000 });
        if (s !== "audit") {
          await page.locator("#admin-list tbody tr").first().locator("button.admin-edit").click();
          await page.locator("#admin-form").waitFor({ timeout: 5000 });
        }
      }
      await page.goto(`${srv.base}/#/admin/queues`);
      await page.locator("#admin-list-title", { hasText: title }).waitFor({ timeout: 10000 });
      await page.locator("#admin-list tbody tr").first().locator("button.admin-edit").click();
      await screenshot(page, `admin-11-${lang}`);
    }
    await page.locator("#lang").selectOption("en");
  });

  await step("the pages ran without script errors and without missing translations", async () => {
    page.assertNoErrors();
    const missing = await page.evaluate(() => [...window.__blendMissingKeys]);
    if (missing.length) throw new Error(`missing keys: ${missing.join(", ")}`);
  });
});

// The console's browser flows, driven by tests/e2e/test_console.py against `trellis up --demo`.
// node flows.mjs <gateway-url> <screenshot-dir> <setup-json>
// Prints one JSON line: {"steps": [...], "axe": {page: [violations]}}; exits 1 on the first failure.
import { chromium } from "playwright-core";
import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";

const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");
const [base, shots, setupJson] = process.argv.slice(2);
const setup = JSON.parse(setupJson);
mkdirSync(shots, { recursive: true });

const report = { steps: [], axe: {} };
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

async function audit(page, name) {
  // Audit the page at rest: after its requests, without spinners or a fading notification.
  await page.waitForLoadState("networkidle");
  await page
    .waitForFunction(() => !document.querySelector('[role="progressbar"], .MuiSnackbar-root'), null, { timeout: 8000 })
    .catch(() => {});
  // ...and once its transitions have ended: a colour measured halfway through one (a
  // button becoming enabled as a radio is checked) is neither the old nor the new.
  await page.evaluate(() =>
    Promise.race([
      Promise.all(
        document
          .getAnimations()
          .filter((a) => a.effect && a.effect.getComputedTiming().endTime !== Infinity)
          .map((a) => a.finished.catch(() => null)),
      ),
      new Promise((resolve) => setTimeout(resolve, 2000)),
    ]),
  );
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] } });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
  report.axe[name] = result;
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

async function step(name, fn) {
  const started = Date.now();
  await fn();
  report.steps.push({ name, ms: Date.now() - started });
}

// Sign in on the provider's page; a person with several memberships then chooses whom to act for.
async function provider(page, email, password, actFor, shot) {
  await page.waitForURL(/\/oauth\/authorize/);
  await page.fill("#email", email);
  await page.fill("#password", password);
  await page.getByRole("button", { name: "Sign in" }).click();
  if (actFor) {
    await page.getByRole("heading", { name: "Choose whom you act for" }).waitFor();
    await page.getByLabel(actFor).check();
    if (shot) await audit(page, shot);
    await page.getByRole("button", { name: "Continue" }).click();
  }
  await page.waitForURL((url) => url.pathname === "/" && url.hash.startsWith("#/"), { timeout: 20000 });
}

async function signIn(page, email, password, actFor, shot) {
  await page.goto(`${base}/`);
  await page.getByRole("button", { name: "Sign in" }).click();
  await provider(page, email, password, actFor, shot);
}

// A finance person: memberships cannot hold the finance role yet, so the harness hands the
// console a token from `trellis token --role finance`, kept where oidc-client-ts keeps its user.
async function financeContext(person, phone = false) {
  const screen = phone ? { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } : { viewport: { width: 1280, height: 900 } };
  const ctx = await browser.newContext({ ...screen, acceptDownloads: true });
  const user = {
    access_token: person.access_token,
    token_type: "Bearer",
    scope: "openid profile",
    profile: { sub: person.sub, name: person.name },
    expires_at: Math.floor(Date.now() / 1000) + 3600,
  };
  await ctx.addInitScript(([key, value]) => window.sessionStorage.setItem(key, value), [`oidc.user:${base}:trellis-console`, JSON.stringify(user)]);
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  return [ctx, page];
}

async function visit(page, name, path) {
  await page.goto(`${base}/${path}`);
  await page.locator("main").first().waitFor();
  await page.waitForLoadState("networkidle");
  await audit(page, name);
}

const STAFF_ORG = /Northern Lights/;

try {
  // bypassCSP lets axe-core run on the provider's own pages (the membership chooser) too.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);

  // Funder staff ----------------------------------------------------------------------
  await step("staff signs in and chooses whom to act for", async () => {
    await signIn(page, setup.staff.email, setup.staff.password, STAFF_ORG, "membership-chooser");
    await page.getByRole("heading", { name: "What needs attention" }).waitFor();
    await audit(page, "staff-home");
  });

  await step("staff records a visit", async () => {
    await page.goto(`${base}/#/partners`);
    await page.getByLabel("Search").fill(setup.partner.name);
    await page.getByRole("cell", { name: setup.partner.name }).first().click();
    await page.getByRole("tab", { name: "Interactions" }).click();
    await page.getByRole("link", { name: "Record a visit or call" }).click();
    await page.waitForURL(/#\/interactions\/create/);
    await page.getByRole("textbox", { name: "Summary" }).fill("Visited the youth club; met the new coordinator and the young people's panel.");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("met the new coordinator").waitFor();
    await audit(page, "staff-visit");
  });

  await step("staff approves a grant with a decision", async () => {
    await page.goto(`${base}/#/grants/create`);
    await page.getByLabel("Partner").fill(setup.partner.name.split(" ")[0]);
    await page.getByRole("option", { name: setup.partner.name }).click();
    await page.getByLabel("Title").fill("Core funding 2027 to 2030");
    await page.getByLabel("Description").fill("Unrestricted core funding for three years.");
    await page.getByLabel("Award (pounds)").fill("45000");
    await page.getByLabel("Starts").fill("2027-01-01");
    await page.getByLabel("Ends").fill("2029-12-31");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("heading", { name: "Approve with a decision" }).waitFor();
    await page.getByLabel("Minute or paper reference").fill("TM-2026-11 item 3");
    await page.getByRole("button", { name: "Approve the grant" }).click();
    await page.getByRole("heading", { name: "Schedule and payments" }).waitFor();
    await audit(page, "staff-grant-approved");
  });

  await step("staff pays an instalment", async () => {
    await page.getByLabel("Payment reference").fill("BACS 0001");
    await page.getByRole("button", { name: "Record the payment" }).click();
    await page.getByText(/Paid £15,000\.00 of £45,000\.00/).waitFor();
    await audit(page, "staff-paid");
  });

  await step("staff replies to an update", async () => {
    await page.goto(`${base}/#/updates`);
    await page.locator("tbody tr").first().click();
    await page.getByRole("heading", { name: "Conversation" }).waitFor();
    await page.getByLabel("Your reply").fill("Thank you for telling us. Shall we talk about the building next week?");
    await page.getByRole("button", { name: "Send reply" }).click();
    await page.getByText("Shall we talk about the building").first().waitFor();
    await audit(page, "staff-reply");
  });

  await step("staff opens a round", async () => {
    await page.goto(`${base}/#/rounds/create`);
    await page.getByLabel("Title").fill("Autumn 2026: how are we doing?");
    await page.getByLabel("Closes").fill(setup.closes_on);
    await audit(page, "staff-round-form");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("button", { name: "Open the round" }).click();
    await page.getByRole("button", { name: "Close the round" }).waitFor();
    report.round_url = page.url();
    await audit(page, "staff-round-open");
  });

  await step("staff registers a webhook", async () => {
    await page.goto(`${base}/#/webhooks/create`);
    await page.getByLabel("Endpoint URL (https://…)").fill(setup.webhook_url);
    await page.getByLabel(/A reflective update arrives/).check();
    await audit(page, "staff-webhook-form");
    await page.getByRole("button", { name: "Register the webhook" }).click();
    await page.getByText("Copy the signing secret now").waitFor();
    await page.getByRole("link", { name: "Open the webhook and its deliveries" }).click();
    await page.getByRole("heading", { name: "Deliveries" }).waitFor();
    report.webhook_page = page.url();
  });

  await step("staff search finds a demo update", async () => {
    await page.goto(`${base}/#/search`);
    await page.getByLabel("Look for").fill("finance trustee");
    await page.locator("mark", { hasText: /trustee/i }).first().waitFor();
    // The snippet reads as the words it came from: spaces around the marked words kept.
    await page.getByText(/a finance trustee/i).first().waitFor();
    await page.getByRole("cell", { name: "update", exact: true }).first().waitFor();
    await audit(page, "staff-search");
  });

  await step("staff read the audit trail", async () => {
    await page.goto(`${base}/#/audit`);
    await page.getByRole("cell", { name: "create", exact: true }).first().waitFor();
    await audit(page, "staff-audit");
  });

  await step("staff vote in a pool", async () => {
    await page.goto(`${base}/#/pools`);
    await page.getByRole("cell", { name: "North East Youth Pool" }).click();
    await page.getByRole("heading", { name: /Hillside detached youth work/ }).waitFor();
    await page.getByRole("radio", { name: "For" }).check();
    await page.getByLabel("Comment (optional)").fill("Yes: their detached team reaches young people nobody else does.");
    await audit(page, "staff-pool-vote");
    await page.getByRole("button", { name: "Send the vote" }).click();
    await page.getByRole("heading", { name: /Hillside detached youth work: .* — approved/ }).waitFor();
  });

  for (const [name, path] of [
    ["staff-partner", "#/partners"],
    ["staff-results", "#/results"],
    ["staff-threads", "#/threads"],
    ["staff-pools", "#/pools"],
    ["staff-forecast", "#/forecast"],
    ["staff-budgets", "#/budgets"],
    ["staff-payment-runs", "#/payment-runs"],
    ["staff-finance-settings", "#/finance-settings"],
    ["staff-people", "#/people"],
    ["staff-memberships", "#/memberships"],
    ["staff-invitations", "#/invitations"],
    ["staff-takeout", "#/takeout"],
    ["staff-import", "#/import"],
    ["staff-notifications", "#/notifications"],
    ["staff-learning-notes", "#/learning-notes"],
    ["staff-learning-note-form", "#/learning-notes/create"],
    ["staff-themes", "#/tags"],
    ["staff-gatherings", "#/gatherings"],
    ["staff-gathering-form", "#/gatherings/create"],
  ]) {
    await visit(page, name, path);
  }

  await step("staff switch to their other membership", async () => {
    await page.goto(`${base}/#/`);
    await page.getByRole("menuitem", { name: "Act for another organisation" }).click();
    await provider(page, setup.staff.email, setup.staff.password, /Riverside/);
    await page.getByRole("button", { name: /Riverside Community Fund/ }).waitFor();
    await page.getByRole("heading", { name: "What needs attention" }).waitFor();
  });
  await context.close();

  // Finance: one person prepares a payment run, another approves it --------------------
  const [fctx, fp] = await financeContext(setup.finance[0]);
  await step("a finance person prepares a payment run", async () => {
    await fp.goto(`${base}/#/payment-runs/create`);
    await fp.getByLabel("Instalments due by").fill(setup.due_by);
    await fp.getByRole("button", { name: "Save" }).click();
    await fp.getByText("You prepared this run: a second finance person approves it.").waitFor();
    report.run_url = fp.url();
    await audit(fp, "finance-run-prepared");
  });
  await fctx.close();
  // The second finance person approves on a phone.
  const [actx, ap2] = await financeContext(setup.finance[1], true);
  await step("another finance person approves it and marks it paid", async () => {
    await ap2.goto(report.run_url);
    await ap2.getByRole("button", { name: "Approve the run" }).click();
    await ap2.getByText("approved", { exact: true }).first().waitFor();
    const [download] = await Promise.all([
      ap2.waitForEvent("download"),
      ap2.getByRole("button", { name: "Download the payments (CSV)" }).click(),
    ]);
    report.csv_name = download.suggestedFilename();
    await audit(ap2, "finance-run-approved");
    await ap2.getByLabel("Bank reference").fill("BACS run 1");
    await ap2.getByRole("button", { name: "Mark paid" }).click();
    await ap2.getByText("paid", { exact: true }).first().waitFor();
    await visit(ap2, "finance-forecast", "#/forecast");
  });
  await actx.close();

  // A partner's person -----------------------------------------------------------------
  const pctx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const pp = await pctx.newPage();
  pp.setDefaultTimeout(15000);
  await step("partner signs in", async () => {
    await signIn(pp, setup.partner_person.email, setup.partner_person.password);
    await pp.getByRole("heading", { name: "Your organisation" }).waitFor();
    await audit(pp, "partner-home");
  });

  await step("partner sends an update to two funders", async () => {
    await pp.goto(`${base}/#/updates/create`);
    for (const funder of setup.funders) await pp.getByLabel(funder).check();
    await pp.getByLabel("What has changed").fill("We opened a second evening session on the Leam Lane estate.");
    await pp.getByLabel("What we have learned").fill("Young people come when their friends run it.");
    await audit(pp, "partner-update-form");
    await pp.getByRole("button", { name: "Send the update" }).click();
    await pp.waitForURL(/#\/updates$/);
    await pp.getByText("Update sent").waitFor();
  });

  await step("partner answers a round anonymously", async () => {
    await pp.goto(`${base}/#/rounds`);
    await pp.getByText("Autumn 2026: how are we doing?").first().click();
    await pp.getByLabel(/^Anonymously/).check();
    await pp.getByRole("button", { name: "Take my anonymous ballot" }).click();
    await pp.getByText("Your ballot is ready").waitFor();
    const groups = pp.getByRole("radiogroup");
    const count = await groups.count();
    for (let i = 1; i < count; i++) await groups.nth(i).getByLabel("4", { exact: true }).check();
    await audit(pp, "partner-round");
    await pp.getByRole("button", { name: "Send my answer" }).click();
    await pp.getByText("Your anonymous answer is in").waitFor();
  });
  await step("partner's change to a contact someone else changed first is refused, and said so", async () => {
    await pp.goto(`${base}/#/contacts/create`);
    await pp.getByLabel("Name").fill("Sam Okafor");
    await pp.getByLabel("Role").fill("Treasurer");
    await pp.getByRole("button", { name: "Save" }).click();
    await pp.getByRole("cell", { name: "Sam Okafor" }).click();
    await pp.waitForURL(/#\/contacts\/[^/]+$/);
    await pp.getByLabel("Role").waitFor();
    // A colleague changes the same contact meanwhile (another client, the same API).
    const status = await pp.evaluate(async (origin) => {
      const key = Object.keys(sessionStorage).find((k) => k.startsWith("oidc.user:"));
      const token = JSON.parse(sessionStorage.getItem(key)).access_token;
      const id = location.hash.split("/")[2];
      const response = await fetch(`${origin}/api/v1/contacts/${id}`, {
        method: "PUT",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ role: "Chair" }),
      });
      return response.status;
    }, base);
    if (status !== 200) throw new Error(`the concurrent change answered ${status}`);
    await pp.getByLabel("Role").fill("Treasurer and secretary");
    await pp.getByRole("button", { name: "Save" }).click();
    await pp.getByText(/Someone changed this record since you opened it/).waitFor();
    await audit(pp, "partner-contact-stale");
  });

  await step("partner asks for an extension to a grant", async () => {
    await pp.goto(`${base}/#/grants`);
    await pp.getByText("Core funding 2027 to 2030").first().click();
    await pp.getByRole("heading", { name: "Ask for a change to this grant" }).waitFor();
    await pp.getByLabel("Why, in your own words").fill("Our new building opens six months late; we would like the grant to run until June 2030.");
    await audit(pp, "partner-grant-request-form");
    await pp.getByRole("button", { name: "Send the request" }).click();
    await pp.getByRole("cell", { name: /Our new building opens six months late/ }).waitFor();
  });

  for (const [name, path] of [
    ["partner-grant-requests", "#/grant-requests"],
    ["partner-notifications", "#/notifications"],
    ["partner-gatherings", "#/gatherings"],
    ["partner-search", "#/search"],
    ["partner-webhooks", "#/webhooks"],
    ["partner-people", "#/people"],
    ["partner-invitations", "#/invitations"],
    ["partner-audit", "#/audit"],
    ["partner-takeout", "#/takeout"],
  ]) {
    await visit(pp, name, path);
  }
  await pctx.close();

  // Staff publish the round; the public scorecard shows it -----------------------------
  const sctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const sp = await sctx.newPage();
  sp.setDefaultTimeout(15000);
  await step("staff see the webhook's delivery and send it again", async () => {
    await signIn(sp, setup.staff.email, setup.staff.password, STAFF_ORG);
    await sp.goto(report.webhook_page);
    for (let i = 0; i < 20; i++) {
      if (await sp.getByRole("cell", { name: "delivered" }).count()) break;
      await sp.waitForTimeout(500);
      await sp.getByRole("button", { name: "Read the log again" }).click();
    }
    await sp.getByRole("cell", { name: "update.received" }).first().waitFor();
    await sp.getByRole("cell", { name: "delivered" }).first().waitFor();
    await sp.getByRole("button", { name: "Send again: the update.received delivery" }).first().click();
    await sp.getByText("Sent again").waitFor();
    await audit(sp, "staff-webhook-deliveries");
  });

  await step("staff see the partner's request and answer it", async () => {
    await sp.goto(`${base}/#/grant-requests`);
    await sp.getByRole("row", { name: /Core funding 2027 to 2030/ }).first().getByRole("cell", { name: "extension" }).click();
    await sp.getByText(/Our new building opens six months late/).waitFor();
    await audit(sp, "staff-grant-request");
    await sp.getByLabel("Reply to the partner").fill("Yes in principle: the trustees decide the new end date at their March meeting.");
    await sp.getByRole("button", { name: "Send the reply" }).click();
    await sp.getByText("answered", { exact: true }).first().waitFor();
  });

  await step("staff close and publish the round", async () => {
    await sp.goto(report.round_url);
    await sp.getByRole("button", { name: "Close the round" }).click();
    await sp.getByRole("button", { name: "Publish the results" }).click();
    await sp.getByText("published", { exact: true }).first().waitFor();
    await sp.getByRole("table", { name: "Results" }).waitFor();
    await sp.getByText(/Fewer than \d+ responses/).first().waitFor();
    await audit(sp, "staff-round-published");
  });
  await sctx.close();

  const anon = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const ap = await anon.newPage();
  await step("the public scorecard shows the published results", async () => {
    await ap.goto(`${base}/#/public/${setup.slug}`);
    await ap.getByRole("heading", { name: "Scorecard: what partners said" }).waitFor();
    await ap.getByText("Autumn 2026: how are we doing?").waitFor();
    await ap.getByRole("table", { name: "Results" }).waitFor();
    // One answer is fewer than k: the figures say they are withheld, and why.
    await ap.getByText("withheld", { exact: true }).first().waitFor();
    await ap.getByText(/Fewer than \d+ responses/).first().waitFor();
    await ap.waitForLoadState("networkidle");
    await audit(ap, "public-scorecard");
  });
  await anon.close();
  console.log(JSON.stringify(report));
} catch (error) {
  report.error = String(error?.stack ?? error);
  console.log(JSON.stringify(report));
  process.exitCode = 1;
} finally {
  await browser.close();
}

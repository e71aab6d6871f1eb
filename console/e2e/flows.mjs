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

async function signIn(page, email, password) {
  await page.goto(`${base}/`);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/oauth\/authorize/);
  await page.fill("#email", email);
  await page.fill("#password", password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => url.pathname === "/" && url.hash.startsWith("#/"), { timeout: 20000 });
}

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);

  // Funder staff ----------------------------------------------------------------------
  await step("staff signs in", async () => {
    await signIn(page, setup.staff.email, setup.staff.password);
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
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("button", { name: "Open the round" }).click();
    await page.getByRole("button", { name: "Close the round" }).waitFor();
    report.round_url = page.url();
    await audit(page, "staff-round-open");
  });

  for (const [name, path] of [
    ["staff-partner", "#/partners"],
    ["staff-results", "#/results"],
    ["staff-threads", "#/threads"],
    ["staff-pools", "#/pools"],
  ]) {
    await page.goto(`${base}/${path}`);
    await page.locator("main").first().waitFor();
    await page.waitForLoadState("networkidle");
    await audit(page, name);
  }
  await context.close();

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
  await pctx.close();

  // Staff publish the round; the public scorecard shows it -----------------------------
  const sctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const sp = await sctx.newPage();
  sp.setDefaultTimeout(15000);
  await step("staff close and publish the round", async () => {
    await signIn(sp, setup.staff.email, setup.staff.password);
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

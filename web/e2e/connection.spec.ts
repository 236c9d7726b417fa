// The connection: offline noticed at once (the browser's events) or within seconds (the app's ping), sends
// kept as pending and sent on reconnect, and a disabled account explained instead of a silent loop.
import { test, expect, adminAction, DESKTOP, grantAdmin, msg, openDirect, PHONE, send, shot, signUp, T } from "./fixtures";

test("offline: said at once, messages wait as pending and go out on reconnect", async ({ users }) => {
  const ann = await users.signUp("ann");
  const bob = await users.signUp("bob");
  const room = await openDirect(ann.page, bob.name);
  await send(ann.page, "before the tunnel");
  await bob.page.goto(`/r/${room}`);
  await msg(bob.page, "before the tunnel").waitFor({ timeout: T });

  await ann.context.setOffline(true);
  await expect(ann.page.getByTestId("conn")).toHaveText("Offline", { timeout: 3_000 });
  await expect(ann.page.getByTestId("chat-subtitle")).toHaveText("Offline");
  for (const text of ["in the tunnel 1", "in the tunnel 2"]) {
    await ann.page.getByLabel("Message", { exact: true }).fill(text);
    await ann.page.getByLabel("Message", { exact: true }).press("Enter");
    await expect(msg(ann.page, text).locator('[data-tick="pending"] svg'), "shown at once, with a clock").toBeVisible();
  }
  await ann.page.waitForTimeout(1_000);
  await expect(msg(bob.page, "in the tunnel 1")).toHaveCount(0);
  await shot(ann.page, "30-offline-1280");
  await ann.page.setViewportSize(PHONE);
  await expect(ann.page.getByTestId("chat-subtitle")).toHaveText("Offline");
  await shot(ann.page, "30-offline-390");
  await ann.page.setViewportSize(DESKTOP);

  await ann.context.setOffline(false);
  await ann.page.locator(".conn.online").waitFor({ timeout: T });
  for (const text of ["in the tunnel 1", "in the tunnel 2"]) {
    await msg(ann.page, text).and(ann.page.locator("[data-seq]")).waitFor({ timeout: T });
    await msg(bob.page, text).waitFor({ timeout: T });
  }
  const order = await bob.page.locator(".msg .body").allTextContents();
  expect(order.slice(-3), "in the order typed, once each").toEqual(["before the tunnel", "in the tunnel 1", "in the tunnel 2"]);
});

test("a connection that died silently is noticed by the ping and replaced", async ({ users }) => {
  test.setTimeout(120_000);
  const ann = await users.open("ann");
  // Carry the app's websocket through a relay that can go silent: no close, nothing through, as after a
  // laptop slept or a NAT forgot the mapping. Later connections pass normally.
  let silent = false;
  let connections = 0;
  await ann.context.routeWebSocket(/.*/, (ws) => {
    const n = ++connections;
    const server = ws.connectToServer();
    ws.onMessage((m) => { if (!(silent && n === 1)) server.send(m); });
    server.onMessage((m) => { if (!(silent && n === 1)) ws.send(m); });
  });
  await signUp(ann.page, ann.name);
  const bob = await users.signUp("bob");
  const room = await openDirect(ann.page, bob.name);
  await send(ann.page, "all good");
  expect(connections).toBe(1);

  silent = true;
  const cut = Date.now();
  // the state may last only the reconnect's back-off (half a second): look every 50 ms
  await ann.page.waitForFunction(() => document.querySelector("[data-testid=conn]")?.textContent === "Connecting…", null,
    { timeout: 20_000, polling: 50 });
  const noticed = Date.now() - cut;
  expect(noticed, "noticed within the ping period and its timeout").toBeLessThan(17_000);
  await ann.page.locator(".conn.online").waitFor({ timeout: T });
  expect(connections).toBe(2);
  await bob.page.goto(`/r/${room}`);
  await send(bob.page, "still there?");
  await msg(ann.page, "still there?").waitFor({ timeout: T });
  console.log(`[e2e] a silent connection was noticed after ${noticed} ms`);
});

test("a disabled account is told why on the sign-in screen", async ({ users }) => {
  const ann = await users.signUp("ann");
  const boss = await users.signUp("boss");
  await grantAdmin(boss.name);
  await adminAction(boss.page, boss.name, `users/${ann.name}/disable`);
  const notice = ann.page.getByRole("status").filter({ hasText: "disabled by an administrator" });
  await notice.waitFor({ timeout: T });
  await expect(ann.page.getByRole("button", { name: "Log in" })).toBeVisible();
  await shot(ann.page, "31-disabled-1280");
  await ann.page.setViewportSize(PHONE);
  await shot(ann.page, "31-disabled-390");
  // trying again says so too, and nothing loops in the background
  await ann.page.getByLabel("Username or email").fill(ann.name);
  await ann.page.getByLabel("Password").fill("correct horse battery");
  await ann.page.getByRole("button", { name: "Log in" }).click();
  await ann.page.getByRole("alert").filter({ hasText: "disabled" }).waitFor({ timeout: T });
  let sockets = 0;
  ann.page.on("websocket", () => sockets++);
  await ann.page.waitForTimeout(2_000);
  expect(sockets, "no reconnect loop").toBe(0);
});

// Mixed clients (docs/e2ee.md): a browser user and a Python SDK user (e2e/sdk_peer.py) chat in an encrypted
// direct chat and an encrypted group, both ways: the browser shows the SDK user's plaintext and the SDK
// decrypts the browser's, each message checked as coming from who sent it.
import { test as base, expect, msg, PASSWORD, shot, signUp, T, uniqueName, type User } from "./fixtures";
import { decode } from "@msgpack/msgpack";
import { bubble, sendText, startEncrypted } from "./encrypted";
import { SdkPeer } from "./sdkPeer";

const test = base.extend<{ sdk: SdkPeer }>({
  // eslint-disable-next-line no-empty-pattern -- Playwright reads a fixture's dependencies from this pattern: none
  sdk: async ({}, use) => {
    const peer = SdkPeer.start();
    await use(peer);
    await peer.stop();
  },
});

const userIdOf = (u: User) => u.page.evaluate(() => (JSON.parse(localStorage.getItem("chatd.who")!) as { userId: number }).userId);

test("a browser user and a Python SDK user read each other in an encrypted direct chat and group", async ({ users, sdk }) => {
  const py = uniqueName("py");
  await sdk.call("signup", { username: py, password: PASSWORD });
  const ann = await users.signUp("ann");
  const carl = await users.signUp("carl");
  const annId = await userIdOf(ann);

  // the SDK user opens the direct chat and writes first; the browser reads it and answers
  const { room: dm } = await sdk.call("open_direct", { user: ann.name });
  await sdk.call("send", { room: dm, body: "hello from python" });
  await ann.page.locator(`[data-room="${dm}"]`).click();
  await expect(ann.page.getByTestId("room-lock")).toBeVisible({ timeout: T });
  await expect(bubble(ann.page, "hello from python")).toBeVisible({ timeout: T });
  await sendText(ann.page, "hello from the browser");
  expect(await sdk.call("read", { room: dm, body: "hello from the browser" })).toMatchObject({ sender: annId });
  await sdk.call("send", { room: dm, body: "python got it" });
  await expect(bubble(ann.page, "python got it")).toBeVisible({ timeout: T });
  await shot(ann.page, "54-mixed-direct");

  // the browser makes the group; everyone reads everyone
  const group = await startEncrypted(ann.page, "group", [py, carl.name], "Mixed company");
  await sendText(ann.page, "welcome, python and carl");
  expect(await sdk.call("read", { room: group, body: "welcome, python and carl" })).toMatchObject({ sender: annId });
  await sdk.call("send", { room: group, body: "python says hi to the group" });
  await carl.page.locator(`[data-room="${group}"]`).click();
  for (const u of [ann, carl]) await expect(msg(u.page, "python says hi to the group")).toContainText(py, { timeout: T });
  await expect(bubble(carl.page, "welcome, python and carl")).toBeVisible({ timeout: T });
  await sendText(carl.page, "carl from another browser");
  expect(await sdk.call("read", { room: group, body: "carl from another browser" })).toMatchObject({ sender: await userIdOf(carl) });
  for (const u of [ann, carl]) await expect(u.page.locator("[data-e2ee]")).toHaveCount(0); // nothing waiting or undecryptable
  await shot(carl.page, "55-mixed-group");
});

interface SendFrame {
  t: string;
  client_id: string;
  members_seq?: number;
  encrypted?: { session_id: string };
}

test("a member removed while the browser's message is on its way: the browser re-shares without them", async ({ users, sdk }) => {
  // ann's websocket goes through a relay that can hold her next encrypted send until told to let it go
  const ann = await users.open("ann");
  const sends: SendFrame[] = [];
  let hold: ((release: () => void) => void) | null = null;
  await ann.context.routeWebSocket(/.*/, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((m) => ws.send(m));
    ws.onMessage((m) => {
      const frame = typeof m === "string" ? null : (decode(m) as SendFrame);
      if (frame?.t !== "send") return server.send(m);
      sends.push(frame);
      const held = hold;
      hold = null;
      if (held) held(() => server.send(m));
      else server.send(m);
    });
  });
  await signUp(ann.page, ann.name);
  const carl = await users.signUp("carl");
  const py = uniqueName("py");
  await sdk.call("signup", { username: py, password: PASSWORD });
  const { room } = await sdk.call("create_group", { name: "Shrinking", members: [ann.name, carl.name] });
  await ann.page.locator(`[data-room="${room}"]`).click();
  await expect(ann.page.getByTestId("room-lock")).toBeVisible({ timeout: T });
  await sendText(ann.page, "carl still reads this");
  await carl.page.locator(`[data-room="${room}"]`).click();
  await expect(bubble(carl.page, "carl still reads this")).toBeVisible({ timeout: T });

  // ann's next message is shared with carl's device and sent; carl is removed before it reaches the server
  const held = new Promise<() => void>((resolve) => { hold = resolve; });
  await ann.page.getByLabel("Message", { exact: true }).fill("carl is gone");
  await ann.page.getByLabel("Message", { exact: true }).press("Enter");
  const release = await held;
  await sdk.call("remove", { room, user: carl.name });
  release();
  await msg(ann.page, "carl is gone").and(ann.page.locator("[data-seq]")).waitFor({ timeout: T });
  expect(await sdk.call("read", { room, body: "carl is gone" })).toMatchObject({ sender: await userIdOf(ann) });

  // the server refused the first try; the second, same client id, went under a new key for the new list
  const tries = sends.filter((f) => f.client_id === sends.at(-1)!.client_id);
  expect(tries.length).toBe(2);
  expect(tries[1]!.members_seq).toBeGreaterThan(tries[0]!.members_seq!);
  expect(tries[1]!.encrypted!.session_id).not.toBe(tries[0]!.encrypted!.session_id);
  await expect(ann.page.locator(".pending-wrap")).toHaveCount(0); // stored once, no "Not sent"
  await expect(ann.page.locator("[data-e2ee]")).toHaveCount(0);
});

// Direct chats between two people: live delivery, ticks, typing, the backlog, the cache, edit and delete.
import { test, expect, msg, openDirect, send, shot, T, tickOf, waitTick, watchFrames } from "./fixtures";

test("two people chat live; the away one gets the backlog; a reload shows the cache", async ({ users }) => {
  const ann = await users.signUp("ann");
  const bob = await users.signUp("bob");
  const [pageA, pageB] = [ann.page, bob.page];
  const framesB = watchFrames(pageB);

  const room = await openDirect(pageA, bob.name);
  await send(pageA, "hello bob");

  // unread badge and real-time delivery
  const rowB = pageB.locator(`.room-row[data-room="${room}"]`);
  await rowB.locator("[data-testid=unread]", { hasText: "1" }).waitFor({ timeout: T });
  await pageB.waitForFunction(() => document.title === "(1) chatd", null, { timeout: T }); // seen from another tab
  // the room list shows the last message (the unread count may be pushed a moment before the message)
  await rowB.filter({ hasText: "hello bob" }).waitFor({ timeout: T });
  await shot(pageB, "02-room-list");
  await rowB.click();
  await msg(pageB, "hello bob").waitFor({ timeout: T });

  // ticks move to read
  await waitTick(pageA, "hello bob", "read");
  await pageB.waitForFunction(() => document.title === "chatd", null, { timeout: T }); // read: no count left

  // typing indicator
  await pageB.getByLabel("Message", { exact: true }).pressSequentially("hi ann", { delay: 30 });
  await pageA.getByTestId("chat-subtitle").filter({ hasText: "typing" }).waitFor({ timeout: T });
  await pageB.getByLabel("Message", { exact: true }).press("Enter");
  await msg(pageA, "hi ann").waitFor({ timeout: T });
  await waitTick(pageB, "hi ann", "read");
  await shot(pageA, "03-chat");

  // offline backlog
  await pageB.goto("about:blank");
  await pageA.getByTestId("chat-subtitle").filter({ hasText: "last seen" }).waitFor({ timeout: T });
  for (const i of [1, 2, 3]) await send(pageA, `while you were away ${i}`);
  expect(await tickOf(pageA, "while you were away 3"), "an undelivered message shows one tick").toBe("sent");
  await pageB.goto(`/r/${room}`);
  await msg(pageB, "while you were away 3").waitFor({ timeout: T });
  await msg(pageB, "hello bob").waitFor({ timeout: T });
  await waitTick(pageA, "while you were away 3", "read");
  await pageA.getByTestId("chat-subtitle").filter({ hasText: "online" }).waitFor({ timeout: T });

  // reload from the cache: no history request
  await pageB.waitForTimeout(500);
  for (const k of Object.keys(framesB)) delete framesB[k];
  // Hold the websocket back (its URL comes from /api/config): the conversation must show from the cache.
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  await pageB.route("**/api/config", async (route) => {
    await held;
    await route.continue().catch(() => undefined);
  });
  await pageB.reload();
  await msg(pageB, "hello bob").waitFor({ timeout: T });
  await msg(pageB, "while you were away 3").waitFor({ timeout: T });
  expect(await pageB.locator(".conn.online").count(), "the cached conversation shows before the socket is up").toBe(0);
  await shot(pageB, "04-reload-from-cache");
  release();
  await pageB.locator(".conn.online").waitFor({ timeout: T });
  await pageB.waitForTimeout(1500);
  expect(framesB.hello, `reconnected with one hello (${JSON.stringify(framesB)})`).toBe(1);
  expect(framesB.history, `no history request after reload (${JSON.stringify(framesB)})`).toBeUndefined();

  // phone width: one pane at a time, and back to the list
  await pageB.setViewportSize({ width: 390, height: 760 });
  await shot(pageB, "05-chat-phone");
  await pageB.getByRole("button", { name: "Back to chats" }).click();
  await shot(pageB, "06-room-list-phone");
});

test("edit and delete own messages", async ({ users }) => {
  const ann = await users.signUp("ann");
  const bob = await users.signUp("bob");
  const [pageA, pageB] = [ann.page, bob.page];
  const room = await openDirect(pageA, bob.name);
  for (const i of [1, 2, 3]) await send(pageA, `while you were away ${i}`);
  await pageB.goto(`/r/${room}`);
  await send(pageB, "hi ann");
  await msg(pageA, "hi ann").waitFor({ timeout: T });

  const seqOf = async (text: string) => Number(await msg(pageA, text).getAttribute("data-seq"));
  const [seqEdit, seqDel] = [await seqOf("while you were away 1"), await seqOf("while you were away 2")];
  const bubble = (page: typeof pageA, seq: number) => page.locator(`.msg[data-seq="${seq}"]`);
  expect(await msg(pageA, "hi ann").getByRole("button", { name: "Edit message" }).count(), "no actions on the other user's message").toBe(0);
  await bubble(pageA, seqEdit).hover();
  await bubble(pageA, seqEdit).getByRole("button", { name: "Edit message" }).click();
  const editBox = bubble(pageA, seqEdit).getByLabel("Edit message text");
  await editBox.fill("   ");
  await editBox.press("Enter");
  await bubble(pageA, seqEdit).getByRole("alert").filter({ hasText: "cannot be empty" }).waitFor({ timeout: T }); // refused here
  await editBox.press("Escape");
  await editBox.waitFor({ state: "detached", timeout: T });
  expect(await bubble(pageA, seqEdit).locator(".body").textContent(), "Escape keeps the text").toBe("while you were away 1");
  // by keyboard: Escape gave the focus back to the Edit button
  expect(await bubble(pageA, seqEdit).getByRole("button", { name: "Edit message" }).evaluate((b) => b === document.activeElement), "focus is back on Edit").toBe(true);
  await pageA.keyboard.press("Enter");
  await editBox.fill("see you at five");
  await editBox.press("Shift+Enter");
  await editBox.pressSequentially("bring snacks");
  await editBox.press("Enter");
  await editBox.waitFor({ state: "detached", timeout: T });
  for (const page of [pageA, pageB]) {
    await bubble(page, seqEdit).locator(".body", { hasText: "see you at five\nbring snacks" }).waitFor({ timeout: T });
    await bubble(page, seqEdit).locator(".edited", { hasText: "(edited)" }).waitFor({ timeout: T });
  }
  expect(await bubble(pageB, seqEdit).locator(".body").textContent(), "Shift+Enter kept a new line").toBe("see you at five\nbring snacks");
  await bubble(pageA, seqDel).hover();
  await bubble(pageA, seqDel).getByRole("button", { name: "Delete message" }).click();
  await pageA.getByRole("dialog", { name: "Delete message?" }).getByRole("button", { name: "Delete for everyone" }).click();
  for (const page of [pageA, pageB]) {
    await bubble(page, seqDel).locator(".body.deleted", { hasText: "This message was deleted" }).waitFor({ timeout: T });
    expect(await bubble(page, seqDel).textContent(), "the deleted text is gone").not.toContain("while you were away 2");
  }
  expect(await bubble(pageA, seqDel).getByRole("button", { name: "Delete message" }).count(), "no actions on a deleted message").toBe(0);
  await msg(pageA, "while you were away 3").hover();
  await msg(pageA, "while you were away 3").getByRole("button", { name: "Delete message" }).waitFor({ timeout: T });
  await shot(pageA, "13-edit-delete");
});

// Message actions with two and three people: reply (quoted, jumps to the original, fetched when not
// cached), react (live, counted, toggled), copy, delete for me; and ticks right on a fresh device.
import { test, expect, createGroup, logIn, msg, openDirect, send, shot, T, waitTick } from "./fixtures";
import type { Page } from "@playwright/test";

const bubble = (page: Page, seq: number) => page.locator(`.msg[data-seq="${seq}"]`);
const seqOf = async (page: Page, text: string) => Number(await msg(page, text).first().getAttribute("data-seq"));

async function act(page: Page, text: string, action: string): Promise<void> {
  await msg(page, text).first().hover();
  await msg(page, text).first().getByRole("button", { name: action, exact: true }).click();
}

test("reply, react, copy and delete for me between two people; ticks on a new device", async ({ users }) => {
  const ann = await users.signUp("ann");
  const bob = await users.signUp("bob");
  const [pageA, pageB] = [ann.page, bob.page];
  await ann.context.grantPermissions(["clipboard-read", "clipboard-write"]);
  const room = await openDirect(pageA, bob.name);
  await send(pageA, "lunch at noon?");
  await pageB.goto(`/r/${room}`);
  await msg(pageB, "lunch at noon?").waitFor({ timeout: T });

  // bob replies: the bar above the composer says to what, Escape-free cancel works, then the reply goes out
  await act(pageB, "lunch at noon?", "Reply");
  const bar = pageB.getByRole("status", { name: "Replying to a message" });
  await bar.filter({ hasText: "lunch at noon?" }).waitFor({ timeout: T });
  await expect(pageB.getByLabel("Message", { exact: true }), "the composer has the focus").toBeFocused();
  await send(pageB, "yes, see you there");
  await bar.waitFor({ state: "detached", timeout: T });
  const reply = msg(pageA, "yes, see you there");
  await reply.locator(".quote", { hasText: "lunch at noon?" }).waitFor({ timeout: T });
  await expect(reply.locator(".quote strong")).toHaveText("You");

  // reactions: live on both sides, counted, one's own marked, a tap takes it off
  await act(pageB, "lunch at noon?", "React");
  await pageB.getByRole("menuitem", { name: "React 👍" }).click();
  const chipA = msg(pageA, "lunch at noon?").locator(".reaction", { hasText: "👍" });
  await chipA.waitFor({ timeout: T });
  await expect(chipA).toHaveAttribute("aria-pressed", "false");
  await chipA.click(); // ann adds hers by tapping the chip
  await msg(pageB, "lunch at noon?").locator(".reaction .count", { hasText: "2" }).waitFor({ timeout: T });
  await expect(chipA).toHaveAttribute("aria-pressed", "true");
  await act(pageA, "yes, see you there", "React");
  await pageA.getByRole("menuitem", { name: "React 😂" }).click();
  await msg(pageB, "yes, see you there").locator(".reaction", { hasText: "😂" }).waitFor({ timeout: T });
  await pageA.mouse.move(640, 700); // off the message: its action bar fades out
  await pageA.waitForTimeout(300);
  await shot(pageA, "14-reply-react");
  await chipA.click(); // ann takes hers off again
  await msg(pageB, "lunch at noon?").locator(".reaction .count").waitFor({ state: "detached", timeout: T });

  // copy
  await act(pageA, "yes, see you there", "Copy text");
  expect(await pageA.evaluate(() => navigator.clipboard.readText())).toBe("yes, see you there");

  // delete for me: gone here, still there for bob
  await send(pageA, "oops, wrong chat");
  await msg(pageB, "oops, wrong chat").waitFor({ timeout: T });
  await act(pageA, "oops, wrong chat", "Delete message");
  await pageA.getByRole("dialog", { name: "Delete message?" }).getByRole("button", { name: "Delete for me" }).click();
  await msg(pageA, "oops, wrong chat").waitFor({ state: "detached", timeout: T });
  await pageA.waitForTimeout(500);
  expect(await msg(pageB, "oops, wrong chat").count(), "delete for me leaves the others' copy").toBe(1);

  // a fresh device: ann's ticks come from get_receipts, not from pushes it never saw
  await waitTick(pageA, "lunch at noon?", "read");
  const laptop = await users.open("ann-laptop");
  await logIn(laptop.page, ann.name);
  await laptop.page.goto(`/r/${room}`);
  await waitTick(laptop.page, "lunch at noon?", "read");
  // the reply's original is fetched from the server when this device does not hold it, and a tap jumps
  await msg(laptop.page, "yes, see you there").locator(".quote", { hasText: "lunch at noon?" }).click();
  await expect(msg(laptop.page, "lunch at noon?")).toHaveClass(/flash/);
});

test("in a group of three, reactions add up and a reply to an old message jumps back to it", async ({ users }) => {
  const ann = await users.signUp("ann");
  const bob = await users.signUp("bob");
  const cat = await users.signUp("cat", { phone: true });
  const room = await createGroup(ann.page, "Trip planning", [bob.name, cat.name]);
  await send(ann.page, "where do we go?");
  const first = await seqOf(ann.page, "where do we go?");
  for (let i = 1; i <= 12; i++) await send(ann.page, `idea ${i}`);
  for (const u of [bob, cat]) {
    await u.page.goto(`/r/${room}`);
    await msg(u.page, "idea 12").waitFor({ timeout: T });
    await act(u.page, "where do we go?", "React");
    await u.page.getByRole("menuitem", { name: "React ❤️" }).click();
  }
  await msg(ann.page, "where do we go?").locator(".reaction .count", { hasText: "2" }).waitFor({ timeout: T });
  const label = await msg(ann.page, "where do we go?").locator(".reaction").getAttribute("aria-label");
  expect(label, "the chip names who reacted").toContain(bob.name);

  await act(cat.page, "where do we go?", "Reply");
  await send(cat.page, "the mountains");
  const quote = msg(ann.page, "the mountains").locator(".quote");
  await quote.waitFor({ timeout: T });
  await ann.page.locator(".messages").evaluate((el) => { el.scrollTop = el.scrollHeight; });
  await quote.click();
  await expect(bubble(ann.page, first)).toHaveClass(/flash/);
  await expect(bubble(ann.page, first)).toBeInViewport();
  await shot(cat.page, "15-group-reactions-phone");
});

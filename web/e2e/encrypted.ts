// Steps the encrypted-chat specs share (e2ee.spec.ts, mixed.spec.ts).
import type { Page } from "@playwright/test";
import { T } from "./fixtures";

/** Start an encrypted direct chat with `who[0]`, or an encrypted group with `who`; resolves with the room id
 * once the chat shows its lock. */
export async function startEncrypted(page: Page, mode: "direct" | "group", who: string[], name = ""): Promise<number> {
  const before = new URL(page.url()).pathname;
  await page.getByRole("button", { name: mode === "direct" ? "New direct chat" : "New group" }).click();
  const dialog = page.getByRole("dialog");
  if (mode === "group") await dialog.getByLabel("Group name").fill(name);
  for (const w of who) {
    await dialog.getByLabel(mode === "direct" ? "Username" : "Add members (username)").fill(w);
    if (mode === "group") await dialog.getByLabel("Add members (username)").press("Enter");
  }
  await dialog.getByLabel("End-to-end encrypted").check();
  await dialog.getByRole("button", { name: mode === "direct" ? "Start chat" : "Create group" }).click();
  await page.waitForURL((u) => /^\/r\/\d+$/.test(u.pathname) && u.pathname !== before, { timeout: T });
  await page.getByTestId("room-lock").waitFor({ timeout: T });
  return Number(new URL(page.url()).pathname.split("/")[2]);
}

/** The body of a message showing `text` (an encrypted one only once it decrypted). */
export const bubble = (page: Page, text: string) => page.locator(".msg .body", { hasText: text });

/** Type and send `text`; resolves once the server stored it (the bubble has a seq). */
export async function sendText(page: Page, text: string): Promise<void> {
  await page.getByLabel("Message", { exact: true }).fill(text);
  await page.getByLabel("Message", { exact: true }).press("Enter");
  await page.locator(".msg[data-seq]").filter({ has: page.locator(".body", { hasText: text }) }).waitFor({ timeout: T });
}

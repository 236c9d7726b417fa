// End-to-end encryption in the browser (docs/e2ee.md): two devices of one user verify each other by
// comparing emoji, the key backup shows its recovery key once and a new device restores from it; two
// users chat in an encrypted direct chat and an encrypted group and read each other's messages.
import { test, expect, logIn, shot, T, type User } from "./fixtures";
import type { Page } from "@playwright/test";

async function openEncryptionSettings(page: Page): Promise<void> {
  await page.getByRole("button", { name: "Profile and settings" }).click();
  await page.getByTestId("own-fingerprint").waitFor({ timeout: T });
}

/** A second browser of `user`, logged in (a new device). */
async function secondDevice(users: { open(prefix: string): Promise<User> }, user: User): Promise<User> {
  const other = await users.open("dev");
  await logIn(other.page, user.name);
  return { ...other, name: user.name };
}

test("own devices verify by emoji; the recovery key restores on a new device", async ({ users }) => {
  const ann = await users.signUp("ann");
  const phone = await secondDevice(users, ann);
  await openEncryptionSettings(phone.page);
  await openEncryptionSettings(ann.page);

  const row = ann.page.getByTestId("device-key");
  await expect(row).toHaveCount(1, { timeout: T }); // the phone, not verified
  await expect(row).toHaveAttribute("data-verified", "no");
  await row.getByRole("button", { name: /^Verify/ }).click();
  await ann.page.getByText(/Waiting for .* to accept/).waitFor({ timeout: T });

  const incoming = phone.page.getByRole("dialog");
  await incoming.getByText("wants to verify this device").waitFor({ timeout: T });
  await shot(phone.page, "40-verify-incoming");
  await incoming.getByRole("button", { name: "Accept" }).click();

  const emojiA = ann.page.getByTestId("sas-emoji");
  const emojiB = phone.page.getByTestId("sas-emoji");
  await emojiA.waitFor({ timeout: T });
  await emojiB.waitFor({ timeout: T });
  await expect(emojiA.locator("li")).toHaveCount(7);
  expect(await emojiA.innerText()).toBe(await emojiB.innerText()); // the same 7 emoji on both screens
  await shot(ann.page, "41-verify-emoji");
  await ann.page.getByRole("button", { name: "They match" }).click();
  await phone.page.getByRole("button", { name: "They match" }).click();
  await ann.page.getByText("is verified").waitFor({ timeout: T });
  await phone.page.getByText("is verified").waitFor({ timeout: T });
  await ann.page.getByRole("button", { name: "Done" }).click();
  await phone.page.getByRole("button", { name: "Done" }).click();
  await expect(row).toHaveAttribute("data-verified", "yes");
  await expect(phone.page.getByTestId("device-key")).toHaveAttribute("data-verified", "yes", { timeout: T });
  await shot(ann.page, "42-devices-verified");

  // the key backup: the recovery key is shown once
  await ann.page.getByRole("button", { name: "Set up key backup" }).click();
  const key = (await ann.page.getByTestId("recovery-key").innerText()).trim();
  expect(key).toMatch(/^([1-9A-HJ-NP-Za-km-z]{4} )+[1-9A-HJ-NP-Za-km-z]{1,4}$/);
  await shot(ann.page, "43-recovery-key");
  await ann.page.getByRole("button", { name: "I saved it" }).click();
  await ann.page.getByText("Your message keys are backed up").waitFor({ timeout: T });

  // a new device: a mistyped key is refused at once, the right one restores
  const laptop = await secondDevice(users, ann);
  await openEncryptionSettings(laptop.page);
  const typed = laptop.page.getByRole("textbox", { name: "Restore from recovery key" });
  await typed.fill(key.slice(0, -6) + "zzzzzz");
  await laptop.page.getByRole("button", { name: "Restore" }).click();
  await laptop.page.getByRole("alert").filter({ hasText: /does not match your backup|not a whole recovery key/ }).waitFor({ timeout: T });
  await typed.fill(key);
  await laptop.page.getByRole("button", { name: "Restore" }).click();
  await laptop.page.getByText(/Restored \d+ keys? from your backup/).waitFor({ timeout: T });
  await shot(laptop.page, "44-restored");
});

// Settings: the profile, the signed-in devices and changing the password.
import { test, shot, T } from "./fixtures";

test("profile, devices and password", async ({ users }) => {
  const ann = await users.signUp("ann");
  const page = ann.page;
  await page.getByRole("button", { name: "Profile and settings" }).click();
  await page.getByLabel("Display name", { exact: true }).fill("Ann A.");
  await page.getByRole("button", { name: "Save profile" }).click();
  await page.getByText("Saved.").waitFor({ timeout: T });
  await shot(page, "10-settings");

  const devices = page.getByRole("list", { name: "Signed-in devices" });
  await devices.getByText("(this device)").waitFor({ timeout: T });
  await page.getByLabel("Current password").fill("correct horse battery");
  await page.getByLabel("New password", { exact: true }).fill("a brand new passphrase");
  await page.getByLabel("Confirm new password").fill("a brand new passfrase");
  await page.getByRole("button", { name: "Change password" }).click();
  await page.getByRole("alert").filter({ hasText: "do not match" }).waitFor({ timeout: T }); // refused here
  await page.getByLabel("Confirm new password").fill("a brand new passphrase");
  await page.getByRole("button", { name: "Change password" }).click();
  await page.getByText("Password changed.").waitFor({ timeout: T });
  await shot(page, "11-devices");
});

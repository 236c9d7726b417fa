// Media: a photo goes up through the HTTP upload and comes down to the other user through a signed link.
import { test, expect, openDirect, png, T } from "./fixtures";

test("a photo goes up with progress and comes down through a signed link", async ({ users }) => {
  const ann = await users.signUp("ann");
  const bob = await users.signUp("bob");
  const room = await openDirect(ann.page, bob.name);
  await bob.page.goto(`/r/${room}`);
  await bob.page.locator('input[type="file"]').setInputFiles({ name: "dots.png", mimeType: "image/png", buffer: png(64, 48) });
  await bob.page.getByRole("dialog", { name: "Send 1 file" }).getByRole("button", { name: "Send" }).click(); // the preview
  const sentImage = bob.page.locator(".msg.mine[data-seq] img");
  const failed = bob.page.locator(".send-error, .uploads .error");
  await expect(sentImage.or(failed).first()).toBeVisible({ timeout: T });
  expect(await failed.count(), `the upload was accepted (${await failed.first().textContent().catch(() => "")})`).toBe(0);

  const theirs = ann.page.locator(".msg.theirs img");
  await theirs.waitFor({ timeout: T });
  await ann.page.waitForFunction(() => {
    const i = document.querySelector<HTMLImageElement>(".msg.theirs img");
    return i && i.complete && i.naturalWidth > 0;
  }, null, { timeout: T });
  const src = (await theirs.getAttribute("src")) ?? "";
  expect(src, "the image comes through a signed link").toMatch(/\/api\/media\/[\w-]+\?u=\d+&exp=\d+&sig=[\w-]+$/);
  expect(src, "no token in the URL").not.toMatch(/token/);
});

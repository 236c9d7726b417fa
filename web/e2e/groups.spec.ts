// Groups: create one, an invite link, a third user signs up and joins through it, kick and revoke links.
import { test, expect, createGroup, fillSignUp, msg, send, shot, T } from "./fixtures";

test("a group grows by an invite link; kick and revoke closes the link", async ({ users }) => {
  const ann = await users.signUp("ann");
  const bob = await users.signUp("bob");
  const cat = await users.open("cat");
  const [pageA, pageC] = [ann.page, cat.page];

  const group = await createGroup(pageA, "Team", [bob.name]);
  await pageA.getByRole("button", { name: "Group settings" }).click();
  await pageA.getByRole("button", { name: "Create invite link" }).click();
  const linkBox = pageA.getByTestId("invite-link").first();
  await linkBox.waitFor({ timeout: T });
  const link = await linkBox.inputValue();
  expect(link, "an invite link").toContain("/i/");
  await shot(pageA, "07-group-settings");

  // a third user signs up on the invite page and joins
  await pageC.goto(link);
  await fillSignUp(pageC, cat.name);
  await pageC.getByRole("heading", { name: "Join “Team”" }).waitFor({ timeout: T }); // asked of the server
  expect(await pageC.getByTestId("invite-members").textContent(), "the group's size now").toBe("2 members");
  await shot(pageC, "08-invite");
  await pageC.getByRole("button", { name: "Join group" }).click();
  await pageC.waitForURL(new RegExp(`/r/${group}$`), { timeout: T });
  await send(pageC, "hi team");
  await pageA.goto(`/r/${group}`);
  await msg(pageA, "hi team").waitFor({ timeout: T });
  await pageA.locator(".system", { hasText: "joined via an invite link" }).waitFor({ timeout: T });
  await pageA.getByText("3 members").waitFor({ timeout: T });
  await shot(pageA, "09-group-chat");

  // kick and revoke links
  await pageA.getByRole("button", { name: "Group settings" }).click();
  await pageA.getByText("also revokes every invite link").waitFor({ timeout: T }); // said, not only a tooltip
  pageA.once("dialog", (d) => void d.accept());
  await pageA.getByRole("button", { name: `Kick and revoke links ${cat.name}` }).click();
  await pageA.getByText("Members (2)").waitFor({ timeout: T });
  await pageA.getByTestId("invite-link").first().waitFor({ state: "detached", timeout: T }); // the list reloads after the members
  expect(await pageA.getByTestId("invite-link").count(), "no live invite link is left").toBe(0);
  await pageC.goto(link);
  await pageC.getByText("This invite link was revoked.").waitFor({ timeout: T });
  await pageA.goto(`/r/${group}`);
  await pageA.locator(".system", { hasText: "and revoked the invite links" }).waitFor({ timeout: T });
});

// End-to-end encryption in the browser (docs/e2ee.md): two devices of one user verify each other by
// comparing emoji, the key backup shows its recovery key once and a new device restores from it; two
// users chat in an encrypted direct chat and an encrypted group and read each other's messages.
import { test, expect, logIn, PASSWORD, png, shot, signUp, T, type User } from "./fixtures";
import { bubble, sendText, startEncrypted } from "./encrypted";
import type { Page, WebSocketRoute } from "@playwright/test";
import { decode, encode } from "@msgpack/msgpack";
import { generateKeyPairSync, randomBytes, sign } from "node:crypto";

async function openEncryptionSettings(page: Page): Promise<void> {
  await page.getByRole("button", { name: "Profile and settings" }).click();
  await page.getByTestId("own-fingerprint").waitFor({ timeout: T });
}

/** A second browser of `user`, logged in (a new device). */
async function secondDevice(users: { open(prefix: string, opts?: { phone?: boolean }): Promise<User> }, user: User, phone = false): Promise<User> {
  const other = await users.open("dev", { phone });
  await logIn(other.page, user.name);
  return { ...other, name: user.name };
}

test("own devices verify by emoji; the recovery key restores on a new device", async ({ users }) => {
  const ann = await users.signUp("ann");
  const phone = await secondDevice(users, ann, true);
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
  await shot(phone.page, "41-verify-emoji-phone");
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

/** Every websocket frame `page` receives, as raw bytes (to show the server never relays a plaintext). */
function receivedBytes(page: Page): Buffer[] {
  const frames: Buffer[] = [];
  page.on("websocket", (ws) => ws.on("framereceived", ({ payload }) => frames.push(Buffer.from(payload))));
  return frames;
}

test("an encrypted direct chat and an encrypted group: messages decrypt, the server relays ciphertext", async ({ users }) => {
  const ann = await users.signUp("ann");
  const bob = await users.open("bob");
  const bobFrames = receivedBytes(bob.page); // from its first websocket on
  await signUp(bob.page, bob.name);
  const carl = await users.signUp("carl");

  const dm = await startEncrypted(ann.page, "direct", [bob.name]);
  await sendText(ann.page, "secret hello");
  await bob.page.locator(`[data-room="${dm}"]`).click();
  await expect(bubble(bob.page, "secret hello")).toBeVisible({ timeout: T });
  await expect(bob.page.getByTestId("room-lock")).toBeVisible();
  await sendText(bob.page, "secret reply");
  await expect(bubble(ann.page, "secret reply")).toBeVisible({ timeout: T });
  await shot(ann.page, "45-encrypted-direct");
  expect(bobFrames.some((f) => f.includes("secret hello")), "no frame carried the plaintext").toBe(false);
  expect(bobFrames.some((f) => f.includes("megolm.v1")), "the message came as Megolm ciphertext").toBe(true);

  // ann verifies bob's device from the chat's lock: the same emoji on both screens, then marked verified
  await ann.page.getByRole("button", { name: "Encryption details" }).click();
  const peer = ann.page.getByRole("region", { name: `Devices of ${bob.name}` }).getByTestId("device-key");
  await expect(peer).toHaveAttribute("data-verified", "no", { timeout: T });
  await shot(ann.page, "48-chat-encryption-details");
  await peer.getByRole("button", { name: /^Verify/ }).click();
  await bob.page.getByRole("button", { name: "Accept" }).click({ timeout: T });
  await ann.page.getByTestId("sas-emoji").waitFor({ timeout: T });
  expect(await ann.page.getByTestId("sas-emoji").innerText()).toBe(await bob.page.getByTestId("sas-emoji").innerText());
  await bob.page.getByRole("button", { name: "They match" }).click();
  await ann.page.getByRole("button", { name: "They match" }).click();
  await ann.page.getByRole("button", { name: "Done" }).click({ timeout: T });
  await bob.page.getByRole("button", { name: "Done" }).click({ timeout: T });
  await expect(peer).toHaveAttribute("data-verified", "yes", { timeout: T });
  await ann.page.keyboard.press("Escape");

  const group = await startEncrypted(ann.page, "group", [bob.name, carl.name], "Secret club");
  await sendText(ann.page, "welcome to the club");
  for (const u of [bob, carl]) {
    await u.page.locator(`[data-room="${group}"]`).click();
    await expect(bubble(u.page, "welcome to the club")).toBeVisible({ timeout: T });
  }
  await sendText(carl.page, "glad to be here");
  await expect(bubble(ann.page, "glad to be here")).toBeVisible({ timeout: T });
  await expect(bubble(bob.page, "glad to be here")).toBeVisible({ timeout: T });
  await expect(ann.page.locator("[data-e2ee]")).toHaveCount(0); // nothing left waiting or undecryptable
  await shot(bob.page, "46-encrypted-group");

  // a reload keeps the keys (the pickle key stays wrapped in this browser) and the history decrypts
  await bob.page.reload();
  await expect(bubble(bob.page, "glad to be here")).toBeVisible({ timeout: T });
  await expect(bubble(bob.page, "welcome to the club")).toBeVisible({ timeout: T });
  await expect(bob.page.getByRole("form", { name: "Unlock encryption" })).toHaveCount(0);
  await sendText(bob.page, "still here after a reload");
  await expect(bubble(carl.page, "still here after a reload")).toBeVisible({ timeout: T });
  await shot(carl.page, "47-encrypted-group-after-reload");
});

// The server refuses `send {kind: "encrypted", media: {id}}` for an application/octet-stream upload
// (persistence/seqplan.py refuse_media checks the upload's type against the kind): on once it accepts it.
test("a photo in an encrypted chat: encrypted before the upload, decrypted by the recipient", async ({ users }) => {
  const ann = await users.signUp("ann");
  const bob = await users.signUp("bob");
  const dm = await startEncrypted(ann.page, "direct", [bob.name]);
  await sendText(ann.page, "a photo follows");
  await ann.page.locator('input[type="file"]').setInputFiles({ name: "dots.png", mimeType: "image/png", buffer: png(64, 48) });
  await ann.page.getByRole("dialog", { name: "Send 1 file" }).getByRole("button", { name: "Send" }).click();
  await ann.page.locator(".msg.mine[data-seq] img").waitFor({ timeout: T });
  await bob.page.locator(`[data-room="${dm}"]`).click();
  await bob.page.waitForFunction(() => {
    const i = document.querySelector<HTMLImageElement>(".msg.theirs img");
    return i && i.complete && i.naturalWidth === 64 && i.src.startsWith("blob:");
  }, null, { timeout: T });
  await shot(bob.page, "49-encrypted-photo");
});

test("a device signed in by QR code unlocks with the password once, restores history, then reads new messages", async ({ users }) => {
  const ann = await users.signUp("ann");
  const bob = await users.signUp("bob");
  const dm = await startEncrypted(ann.page, "direct", [bob.name]);
  await bob.page.locator(`[data-room="${dm}"]`).click();
  await sendText(bob.page, "before the new device");
  await expect(bubble(ann.page, "before the new device")).toBeVisible({ timeout: T });
  await openEncryptionSettings(ann.page);
  await ann.page.getByRole("button", { name: "Set up key backup" }).click();
  const key = (await ann.page.getByTestId("recovery-key").innerText()).trim();
  await ann.page.getByRole("button", { name: "I saved it" }).click();

  // a fresh browser signs in with a code ann approves: no password was typed there
  const fresh = await users.open("fresh");
  await fresh.page.goto("/");
  await fresh.page.getByRole("tab", { name: "QR code" }).click();
  const code = (await fresh.page.getByTestId("qr-code-text").textContent({ timeout: T }))!.trim();
  await ann.page.getByLabel("Or type the code").fill(code);
  await ann.page.getByRole("button", { name: "Look up" }).click();
  await ann.page.getByRole("group", { name: "Sign-in request" }).getByRole("button", { name: "Approve" }).click();
  await fresh.page.locator(".conn.online").waitFor({ timeout: T });

  const unlock = fresh.page.getByRole("form", { name: "Unlock encryption" });
  await unlock.waitFor({ timeout: T });
  await shot(fresh.page, "50-unlock-banner");
  await unlock.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await unlock.getByLabel("Password again").fill(PASSWORD + "!");
  await unlock.getByRole("button", { name: "Unlock" }).click();
  await unlock.getByRole("alert").filter({ hasText: "do not match" }).waitFor({ timeout: T }); // nothing to check a typo against yet
  await unlock.getByLabel("Password again").fill(PASSWORD);
  await unlock.getByRole("button", { name: "Unlock" }).click();
  await expect(unlock).toHaveCount(0, { timeout: T }); // a new device's store is made...
  // ...and the history comes from the backup
  await openEncryptionSettings(fresh.page);
  await fresh.page.getByRole("textbox", { name: "Restore from recovery key" }).fill(key);
  await fresh.page.getByRole("button", { name: "Restore" }).click();
  await fresh.page.getByText(/Restored [1-9]\d* keys? from your backup/).waitFor({ timeout: T });
  await fresh.page.locator(`[data-room="${dm}"]`).click();
  await expect(bubble(fresh.page, "before the new device")).toBeVisible({ timeout: T });

  await sendText(bob.page, "after the new device");
  await expect(bubble(fresh.page, "after the new device")).toBeVisible({ timeout: T });
  await ann.page.locator(`[data-room="${dm}"]`).click(); // (ann was in the settings)
  await expect(bubble(ann.page, "after the new device")).toBeVisible({ timeout: T });
  await shot(fresh.page, "51-new-device-reads");
});

/** Unpadded standard base64 (docs/e2ee.md §1). */
const b64 = (b: Buffer) => b.toString("base64").replace(/=+$/, "");

test("a server that swaps a contact's keys: a loud banner, and the new keys get nothing", async ({ users }) => {
  const ann = await users.open("ann");
  // ann's websocket goes through a relay that, once told to, answers query_keys with other keys for bob's
  // device, validly self-signed (what a malicious server could do)
  let swap: number | null = null;
  const mallory = generateKeyPairSync("ed25519");
  const malloryKey = b64(Buffer.from(mallory.publicKey.export({ format: "jwk" }).x!, "base64url"));
  const fakeIdentity = b64(randomBytes(32));
  const sockets: WebSocketRoute[] = [];
  await ann.context.routeWebSocket(/.*/, (ws) => {
    sockets.push(ws);
    const server = ws.connectToServer();
    ws.onMessage((m) => server.send(m));
    server.onMessage((m) => {
      if (swap === null || typeof m === "string") return ws.send(m);
      const frame = decode(m) as { t: string; devices?: { user: number; device: string; identity_key: string; signing_key: string; signature: string }[] };
      if (frame.t !== "device_keys") return ws.send(m);
      for (const d of frame.devices ?? []) {
        if (d.user !== swap) continue;
        Object.assign(d, { identity_key: fakeIdentity, signing_key: malloryKey });
        d.signature = b64(sign(null, Buffer.from(`chatd-device-keys:v1:${d.user}:${d.device}:${fakeIdentity}:${malloryKey}`), mallory.privateKey));
      }
      ws.send(Buffer.from(encode(frame)));
    });
  });
  await signUp(ann.page, ann.name);
  const bob = await users.signUp("bob");
  const dm = await startEncrypted(ann.page, "direct", [bob.name]);
  await sendText(ann.page, "before the swap");
  await bob.page.locator(`[data-room="${dm}"]`).click();
  await expect(bubble(bob.page, "before the swap")).toBeVisible({ timeout: T });

  swap = await bob.page.evaluate(() => (JSON.parse(localStorage.getItem("chatd.who")!) as { userId: number }).userId);
  for (const s of sockets) await s.close(); // ann reconnects and asks for every device list again
  await ann.page.locator(".conn.online").waitFor({ timeout: T });
  await sendText(ann.page, "after the swap");
  const banner = ann.page.getByTestId("identity-warning");
  await expect(banner).toContainText(`${bob.name}'s security key changed`, { timeout: T });
  await shot(ann.page, "52-identity-changed");
  // bob's real device got no key for it: first waiting, then, with nothing left to ask, unable
  await expect(bob.page.locator("[data-e2ee]")).toHaveCount(1, { timeout: T });
  await expect(bob.page.locator('[data-e2ee="failed"]')).toHaveText(/Unable to decrypt this message/, { timeout: 30_000 });
  await shot(bob.page, "53-unable-to-decrypt");
});

// QR device login (docs/protocol.md 3.9): a fresh browser shows a sign-in QR code; a signed-in browser scans it
// with its camera, sees who asks, approves, and the fresh browser is signed in as a device of its own.
//
// The camera is Chromium's fake capture device playing a Y4M video made at test time from the QR code the fresh
// page shows (--use-file-for-fake-video-capture), so the real scanning path runs: getUserMedia, frames from the
// <video>, the decoder (jsQR here: Chromium on Linux has no BarcodeDetector), the code in the link.
import { chromium } from "@playwright/test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { encode } from "uqr";
import { expect, shot, signUp, test, T, uniqueName } from "./fixtures";

const W = 640, H = 480;

/** A Y4M video (4:2:0, a few identical frames; Chromium loops it) of `text` as a QR code, dark on white. */
function qrVideo(text: string): Buffer {
  const { data, size } = encode(text, { border: 4 });
  const scale = Math.floor(Math.min(W, H) * 0.8 / size);
  const left = Math.floor((W - size * scale) / 2), top = Math.floor((H - size * scale) / 2);
  const luma = Buffer.alloc(W * H, 235);
  for (let y = 0; y < size * scale; y++) {
    for (let x = 0; x < size * scale; x++) {
      if (data[Math.floor(y / scale)]![Math.floor(x / scale)]) luma[(top + y) * W + left + x] = 16;
    }
  }
  const chroma = Buffer.alloc((W / 2) * (H / 2) * 2, 128); // no colour: U and V planes at their midpoint
  const frame = Buffer.concat([Buffer.from("FRAME\n"), luma, chroma]);
  return Buffer.concat([Buffer.from(`YUV4MPEG2 W${W} H${H} F10:1 Ip A1:1 C420jpeg\n`), ...new Array<Buffer>(10).fill(frame)]);
}

test("a signed-in browser scans a fresh browser's QR code and signs it in", async ({ users, baseURL }) => {
  const fresh = await users.open("fresh");
  await fresh.page.goto("/");
  await fresh.page.getByRole("tab", { name: "QR code" }).click();
  const shown = (await fresh.page.getByTestId("qr-code-text").textContent({ timeout: T }))!.trim();
  expect(shown).toMatch(/^([0-9A-Z]{5}-){3}[0-9A-Z]{5}$/);
  await expect(fresh.page.getByRole("img", { name: "QR code to sign in from another device" })).toBeVisible();
  await shot(fresh.page, "qr-1-sign-in-code");

  // the QR the page shows holds <origin>/qr/<code>; the camera films the same content
  const dir = mkdtempSync(path.join(tmpdir(), "chatd-qr-"));
  const video = path.join(dir, "qr.y4m");
  writeFileSync(video, qrVideo(`${baseURL}/qr/${shown.replace(/-/g, "")}`));
  const camera = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
      `--use-file-for-fake-video-capture=${video}`],
  });
  try {
    const context = await camera.newContext({ baseURL, viewport: { width: 1280, height: 780 }, permissions: ["camera"] });
    const phone = await context.newPage();
    const name = uniqueName("ann");
    await signUp(phone, name);
    await phone.getByRole("button", { name: "Profile and settings" }).click();
    await phone.getByRole("button", { name: "Scan QR code" }).click();

    const asking = phone.getByRole("group", { name: "Sign-in request" });
    await asking.waitFor({ timeout: T });
    await expect(asking).toContainText("Sign in “web (Chrome)” to your account?");
    await expect(asking).toContainText("127.0.0.1"); // the fresh browser's address, as the server saw it
    await expect(asking).toContainText("Chrome"); // its User-Agent
    await shot(phone, "qr-2-approve");
    await asking.getByRole("button", { name: "Approve" }).click();
    await phone.getByText("Approved:").waitFor({ timeout: T });

    await fresh.page.locator(".conn.online").waitFor({ timeout: T }); // signed in, as ann
    expect(await fresh.page.evaluate(() => localStorage.getItem("chatd.who"))).toContain(`"${name}"`);
    await shot(fresh.page, "qr-3-signed-in");

    const devices = phone.getByRole("list", { name: "Signed-in devices" }).getByRole("listitem");
    await expect(devices).toHaveCount(2); // a device of its own, which can be logged out like any other
    await context.close();
  } finally {
    await camera.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a code typed in by hand works too, and a declined request signs nobody in", async ({ users }) => {
  const ann = await users.signUp("ann");
  const fresh = await users.open("fresh");
  await fresh.page.goto("/");
  await fresh.page.getByRole("tab", { name: "QR code" }).click();
  const shown = (await fresh.page.getByTestId("qr-code-text").textContent({ timeout: T }))!.trim();

  await ann.page.getByRole("button", { name: "Profile and settings" }).click();
  await ann.page.getByLabel("Or type the code").fill(shown.toLowerCase());
  await ann.page.getByRole("button", { name: "Look up" }).click();
  const asking = ann.page.getByRole("group", { name: "Sign-in request" });
  await asking.getByRole("button", { name: "Decline" }).click();
  await ann.page.getByText("Declined.").waitFor({ timeout: T });
  await fresh.page.getByRole("alert").filter({ hasText: "declined" }).waitFor({ timeout: T });

  await fresh.page.getByRole("button", { name: "New code" }).click(); // a fresh request, approved this time
  const again = (await fresh.page.getByTestId("qr-code-text").textContent({ timeout: T }))!.trim();
  expect(again).not.toBe(shown);
  await ann.page.getByLabel("Or type the code").fill(again);
  await ann.page.getByRole("button", { name: "Look up" }).click();
  await asking.getByRole("button", { name: "Approve" }).click();
  await fresh.page.locator(".conn.online").waitFor({ timeout: T });
});

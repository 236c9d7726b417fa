import { describe, expect, it } from "vitest";
import { isAppPage, parseRoute } from "../src/routes";

describe("the app's pages", () => {
  it("are what the service worker may answer with the cached app; files and the API are not", () => {
    for (const page of ["/", "/r/42", "/r/42/settings", "/settings", "/i/AgD4RlHb_x-y", "/qr/ABC123"]) expect(isAppPage(page), page).toBe(true);
    for (const other of ["/api/config", "/api/media/abc", "/assets/index-x.js", "/sw.js", "/manifest.webmanifest", "/share",
      "/r/x", "/index.html", "/emojibase/en/data.json"]) expect(isAppPage(other), other).toBe(false);
    expect(parseRoute("/r/42/settings")).toEqual({ name: "group", room: 42 });
  });
});

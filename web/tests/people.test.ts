import { describe, expect, it } from "vitest";
import { avatarColor, initials, isMediaId, usersNamedIn } from "../src/store/people";
import { chimeFor } from "../src/store/logic";
import type { Message } from "../src/protocol/types";

const msg = (room: number, sender: number | undefined, extra: Partial<Message> = {}): Message =>
  ({ room, seq: 1, ts: 1, kind: "text", sender, body: "hi", ...extra });

describe("avatars", () => {
  it("takes the first letters of up to two words", () => {
    expect(initials("Ann Lee")).toBe("AL");
    expect(initials("  weekend plans for june ")).toBe("WP");
    expect(initials("cat_2zfzg")).toBe("C");
    expect(initials("élodie")).toBe("É");
    expect(initials("")).toBe("?");
  });

  it("gives each person one colour everywhere", () => {
    expect(avatarColor(5)).toBe(avatarColor(5));
    expect(new Set([1, 2, 3, 4, 5, 6, 7, 8].map(avatarColor)).size).toBeGreaterThan(1);
  });

  it("fetches only the server's media ids as pictures, never a typed URL", () => {
    expect(isMediaId("Xq3abcdefghijklmnop_-")).toBe(true);
    expect(isMediaId("https://evil.example/track.png")).toBe(false);
    expect(isMediaId("short")).toBe(false);
  });
});

describe("group photo events", () => {
  it("say who changed or removed the photo", async () => {
    const { describeEvent } = await import("../src/store/logic");
    const ev = (icon: string) => msg(1, undefined, { kind: "system", event: { type: "room_updated", by: 3, icon } });
    expect(describeEvent(ev("Xq3abcdefghijklmnop"), () => "Ann")).toBe("Ann changed the group photo");
    expect(describeEvent(ev(""), () => "Ann")).toBe("Ann removed the group photo");
  });
});

describe("names wanted", () => {
  it("collects senders and the people of system events", () => {
    const system = msg(1, undefined, { kind: "system", event: { type: "member_added", by: 3, user: 4 } });
    expect(usersNamedIn([msg(1, 2), system, msg(1, 2)]).sort((a, b) => a - b)).toEqual([2, 3, 4]);
  });
});

describe("notification sound", () => {
  const notMuted = () => false;
  it("sounds for someone else's message in a chat not in front", () => {
    expect(chimeFor([msg(7, 2)], 1, 3, notMuted)).toBe(true);
    expect(chimeFor([msg(7, 2)], 1, null, notMuted)).toBe(true); // the page is in the background
  });
  it("stays quiet for the chat in front, one's own, system events, muted rooms", () => {
    expect(chimeFor([msg(7, 2)], 1, 7, notMuted)).toBe(false);
    expect(chimeFor([msg(7, 1)], 1, null, notMuted)).toBe(false);
    expect(chimeFor([msg(7, undefined, { kind: "system", event: { type: "member_left", user: 2 } })], 1, null, notMuted)).toBe(false);
    expect(chimeFor([msg(7, 2)], 1, null, (r) => r === 7)).toBe(false);
  });
});

import { describe, expect, it } from "vitest";
import { titleFor, unreadTotal } from "../src/store/title";

describe("tab title", () => {
  it("shows the unread count, plain at zero", () => {
    expect(titleFor(0)).toBe("chatd");
    expect(titleFor(3)).toBe("(3) chatd");
    expect(titleFor(99)).toBe("(99) chatd");
    expect(titleFor(100)).toBe("(99+) chatd");
  });

  it("adds unread across rooms one is in, leaving muted rooms out", () => {
    const rooms = {
      1: { unread: 2, member: true },
      2: { unread: 1, member: true, muted: false },
      3: { unread: 5, member: true, muted: true },
      4: { unread: 7, member: false },
      5: { unread: 0, member: true },
      6: { unread: 4 }, // a summary without the flag is a room one is in
    };
    expect(unreadTotal(rooms)).toBe(7);
    expect(unreadTotal({})).toBe(0);
    expect(titleFor(unreadTotal(rooms))).toBe("(7) chatd");
  });
});

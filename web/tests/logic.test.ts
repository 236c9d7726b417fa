import { describe, expect, it } from "vitest";
import { advanceCursor, applyEvents, rejoinedAt, applyReaction, canActOn, describeEvent, editProblem, historyRequestFor, isHiddenEvent, mergeBySeq, mergeCounts, missingRanges, roomsByRecent, tickFor } from "../src/store/logic";
import type { Message } from "../src/protocol/types";
import { newPasswordProblem } from "../src/ui/DeviceSettings";

const text = (seq: number, body = `m${seq}`): Message => ({ room: 1, seq, ts: seq * 1000, kind: "text", sender: 2, body });

describe("room state by seq", () => {
  it("merges by seq, newest copy wins, ascending", () => {
    const merged = mergeBySeq([text(1), text(3)], [text(2), text(3, "edited")]);
    expect(merged.map((m) => [m.seq, m.body])).toEqual([[1, "m1"], [2, "m2"], [3, "edited"]]);
  });

  it("advances the hello cursor only over contiguous seqs", () => {
    expect(advanceCursor(5, new Set([6, 7, 9]))).toBe(7);
    expect(advanceCursor(undefined, new Set([10, 11]), 10)).toBe(11);
    expect(advanceCursor(undefined, new Set([10]))).toBeUndefined();
  });

  it("skips the gap of a removal once the stream re-adds me", () => {
    const back = { ...text(40), body: undefined, event: { type: "member_added", user: 7, by: 1 } };
    expect(rejoinedAt([text(39), back], 7)).toBe(40);
    expect(rejoinedAt([back], 8)).toBeUndefined();
    // removed at 12, added back at 40: 13..39 never come, the cursor moves over them
    expect(advanceCursor(12, new Set([40, 41]), 40, 40)).toBe(41);
    expect(advanceCursor(12, new Set([40, 41]), 40)).toBe(12);
  });

  it("finds the missing ranges newest first", () => {
    expect(missingRanges(1, 10, new Set([1, 2, 5, 6, 10]))).toEqual([[7, 9], [3, 4]]);
    expect(missingRanges(1, 3, new Set([1, 2, 3]))).toEqual([]);
    expect(missingRanges(1, 3, new Set())).toEqual([[1, 3]]);
  });

  it("asks history for exactly a range", () => {
    expect(historyRequestFor([7, 9])).toEqual({ before_seq: 10, limit: 3 });
    expect(historyRequestFor([1, 500])).toEqual({ before_seq: 501, limit: 100 });
  });

  it("applies edit and delete events to their targets", () => {
    const known = new Map([[3, text(3)], [4, { ...text(4), media: { id: "x".repeat(24), mime: "image/png", size: 1 } }]]);
    const events: Message[] = [
      { room: 1, seq: 5, ts: 9000, kind: "system", event: { type: "message_edited", target: 3, by: 2, body: "new" } },
      { room: 1, seq: 6, ts: 9500, kind: "system", event: { type: "message_deleted", target: 4, by: 2 } },
      { room: 1, seq: 7, ts: 9600, kind: "system", event: { type: "message_deleted", target: 99, by: 2 } },
    ];
    const changed = applyEvents(events, (s) => known.get(s));
    expect(changed).toHaveLength(2);
    expect(changed[0]).toMatchObject({ seq: 3, body: "new", edited_ts: 9000 });
    expect(changed[1]).toMatchObject({ seq: 4, deleted: true });
    expect(changed[1]!.body).toBeUndefined();
    expect(changed[1]!.media).toBeUndefined();
  });

  it("gives ticks from the other members' cursors", () => {
    expect(tickFor(undefined, {})).toBe("pending");
    expect(tickFor(4, {})).toBe("sent");
    expect(tickFor(4, { 9: { delivered_seq: 3 } })).toBe("sent");
    expect(tickFor(4, { 9: { delivered_seq: 4 } })).toBe("delivered");
    expect(tickFor(4, { 9: { delivered_seq: 4, read_seq: 4 } })).toBe("read");
    expect(tickFor(4, { 9: { delivered_seq: 9, read_seq: 9 }, 10: { delivered_seq: 4 } })).toBe("delivered");
  });
});

describe("system events", () => {
  it("says when a kick also revoked the invite links", () => {
    const names: Record<number, string> = { 1: "ann", 2: "bob" };
    const removed = (extra: object): Message => ({ room: 1, seq: 4, ts: 0, kind: "system",
      event: { type: "member_removed", user: 2, by: 1, ...extra } });
    expect(describeEvent(removed({}), (u) => names[u] ?? "someone")).toBe("ann removed bob");
    expect(describeEvent(removed({ invites_revoked: true }), (u) => names[u] ?? "someone")).toBe("ann removed bob and revoked the invite links");
  });
});

describe("password change form", () => {
  it("refuses a new password that does not match its confirmation before asking the server", () => {
    expect(newPasswordProblem("a brand new passphrase", "a brand new passphrase")).toBeNull();
    expect(newPasswordProblem("a brand new passphrase", "a brand new passfrase")).toMatch(/do not match/);
  });
});

describe("message actions", () => {
  it("are offered on one's own stored messages only, not system or deleted ones", () => {
    const own: Message = { room: 1, seq: 3, ts: 0, kind: "text", sender: 1, body: "hi" };
    expect(canActOn(own, 1)).toBe(true);
    expect(canActOn({ ...own, kind: "image", body: "" }, 1)).toBe(true);
    expect(canActOn(own, 2)).toBe(false); // someone else's
    expect(canActOn({ ...own, seq: 0 }, 1)).toBe(false); // still sending
    expect(canActOn({ ...own, deleted: true, body: undefined }, 1)).toBe(false);
    expect(canActOn({ room: 1, seq: 4, ts: 0, kind: "system", event: { type: "created", by: 1 } }, 1)).toBe(false);
  });

  it("refuse an empty or oversized edit before it is sent", () => {
    expect(editProblem("")).toMatch(/cannot be empty/);
    expect(editProblem("  \n ")).toMatch(/cannot be empty/);
    expect(editProblem("x".repeat(16_001))).toMatch(/at most 16000/);
    expect(editProblem("fixed")).toBeNull();
  });
});

describe("reactions", () => {
  const event = (seq: number, type: string, by: number, emoji: string, target = 1): Message =>
    ({ room: 1, seq, ts: seq, kind: "system", event: { type, by, emoji, target } });

  it("applies reaction events in order: first-use order, one per user and emoji, empty entries go", () => {
    const target = text(1);
    const events = [event(2, "reaction_added", 5, "👍"), event(3, "reaction_added", 6, "❤️"), event(4, "reaction_added", 6, "👍"),
      event(5, "reaction_added", 6, "👍"), event(6, "reaction_removed", 6, "❤️")];
    const [changed] = applyEvents(events, (s) => (s === 1 ? target : undefined));
    expect(changed!.reactions).toEqual([{ emoji: "👍", users: [5, 6] }]);
  });

  it("replaying from an earlier point onto the newer copy ends in the same state", () => {
    const newer = { ...text(1), reactions: [{ emoji: "👍", users: [5] }] };
    const replay = [event(2, "reaction_added", 5, "👍"), event(3, "reaction_removed", 5, "👍"), event(4, "reaction_added", 5, "👍")];
    expect(applyEvents(replay, () => newer)[0]!.reactions).toEqual([{ emoji: "👍", users: [5] }]);
    expect(applyReaction([{ emoji: "👍", users: [5] }], 5, "👍", false)).toBeUndefined();
  });

  it("a deleted message loses its reactions and takes no more; reaction rows are not shown", () => {
    const withOne = { ...text(1), reactions: [{ emoji: "👍", users: [5] }] };
    const [gone] = applyEvents([{ room: 1, seq: 2, ts: 2, kind: "system", event: { type: "message_deleted", by: 2, target: 1 } }], () => withOne);
    expect(gone!.reactions).toBeUndefined();
    expect(applyEvents([event(3, "reaction_added", 5, "🎉")], () => gone)).toEqual([]);
    expect(isHiddenEvent(event(3, "reaction_added", 5, "🎉"))).toBe(true);
    expect(describeEvent(event(3, "reaction_added", 5, "🎉"), () => "Ann")).toBe("Ann reacted 🎉");
  });
});

describe("room order", () => {
  it("lists the room with the latest message first, then the newest room among those without messages", () => {
    const rooms = { 1: { room: 1, last_message: { ts: 100 } }, 2: { room: 2 }, 3: { room: 3, last_message: { ts: 300 } }, 4: { room: 4 } };
    expect(roomsByRecent(rooms).map((r) => r.room)).toEqual([3, 1, 4, 2]);
  });
});

describe("ticks in big rooms (receipt_counts)", () => {
  it("counts decide the tick of a counted message; figures never go back; the newest 200 are kept", () => {
    let counted = mergeCounts(undefined, 150, [{ seq: 10, delivered: 150, read: 149 }, { seq: 11, delivered: 3 }]);
    expect(tickFor(10, undefined, counted)).toBe("delivered");
    expect(tickFor(11, undefined, counted)).toBe("sent");
    counted = mergeCounts(counted, 150, [{ seq: 10, delivered: 120, read: 150 }]); // a late, older figure for delivered
    expect(counted.counts[10]).toEqual({ delivered: 150, read: 150 });
    expect(tickFor(10, undefined, counted)).toBe("read");
    expect(tickFor(12, { 5: { delivered_seq: 12 } }, counted), "no figures: the cursors decide").toBe("delivered");
    const many = mergeCounts(counted, 150, Array.from({ length: 300 }, (_, i) => ({ seq: 100 + i, delivered: 1 })));
    expect(Object.keys(many.counts)).toHaveLength(200);
    expect(many.counts[399]).toBeDefined();
  });
});

import { describe, expect, it } from "vitest";
import { insertMention, matchMembers, mentionParts, mentionQueryAt } from "../src/mentions";
import { composerAction, insertAtCaret, step, type KeyPress } from "../src/ui/composer/keys";
import { dragHasFiles, fileProblem, filesIn, pastedFiles, previewKind } from "../src/ui/composer/files";

const mentions = (body: string) => mentionParts(body).filter((p) => p.user).map((p) => p.user);

describe("mentions in a body, as the server counts them", () => {
  it("finds @username and keeps the rest of the text around it", () => {
    expect(mentionParts("hi @Bob and @ann_1!")).toEqual([
      { text: "hi " }, { text: "@Bob", user: "bob" }, { text: " and " }, { text: "@ann_1", user: "ann_1" }, { text: "!" },
    ]);
  });

  it("leaves e-mail addresses, @@, too short and too long names alone", () => {
    expect(mentions("mail bob@example.com or @@bob, @al, @" + "a".repeat(33))).toEqual([]);
    expect(mentions("élan@bob")).toEqual([]); // a letter of any script before "@" makes it an address
  });

  it("takes trailing dots as punctuation but keeps inner dots", () => {
    expect(mentionParts("thanks @bob.")).toEqual([{ text: "thanks " }, { text: "@bob", user: "bob" }, { text: "." }]);
    expect(mentions("ask @j.doe... now")).toEqual(["j.doe"]);
  });

  it("joins the parts back into the exact body", () => {
    const body = "@ann, @bob. x@y.z @@no (@carol) @" + "b".repeat(40);
    expect(mentionParts(body).map((p) => p.text).join("")).toBe(body);
  });
});

describe("the mention being typed", () => {
  it("is the name after an @ at a word start, up to the caret", () => {
    expect(mentionQueryAt("hello @bo", 9)).toEqual({ start: 6, query: "bo" });
    expect(mentionQueryAt("@", 1)).toEqual({ start: 0, query: "" });
    expect(mentionQueryAt("(@a", 3)).toEqual({ start: 1, query: "a" });
    expect(mentionQueryAt("hi @bob and", 6)).toEqual({ start: 3, query: "bo" });
  });

  it("is nothing in an e-mail address, after a space, or past the longest name", () => {
    expect(mentionQueryAt("mail me@ex", 10)).toBeNull();
    expect(mentionQueryAt("@bob ", 5)).toBeNull();
    expect(mentionQueryAt("no at here", 5)).toBeNull();
    expect(mentionQueryAt("@@bo", 4)).toBeNull();
    expect(mentionQueryAt("@" + "x".repeat(33), 34)).toBeNull();
  });

  it("is replaced by @username and one space, the caret after it", () => {
    expect(insertMention("hi @bo", 3, 6, "bob")).toEqual({ text: "hi @bob ", caret: 8 });
    // the caret inside a name: the whole name is replaced, an existing space is kept, not doubled
    expect(insertMention("@bo x", 0, 2, "bobby")).toEqual({ text: "@bobby x", caret: 7 });
    expect(insertMention("a @b,c", 2, 4, "bob")).toEqual({ text: "a @bob ,c", caret: 7 });
  });

  it("matches members by username first, then display name words, then anywhere", () => {
    const members = [
      { user: 1, username: "zed", displayName: "Bob Stone" },
      { user: 2, username: "bobby" },
      { user: 3, username: "abob" },
      { user: 4, username: "carol", displayName: "Carol" },
    ];
    expect(matchMembers(members, "bo").map((m) => m.username)).toEqual(["bobby", "zed", "abob"]);
    expect(matchMembers(members, "").map((m) => m.username)).toEqual(["abob", "bobby", "carol", "zed"]);
    expect(matchMembers(members, "STO").map((m) => m.username)).toEqual(["zed"]);
    expect(matchMembers(members, "", 2)).toHaveLength(2);
    expect(matchMembers(members, "nobody")).toEqual([]);
  });
});

describe("composer keys", () => {
  const key = (k: string, more: Partial<KeyPress> = {}): KeyPress => ({ key: k, shiftKey: false, isComposing: false, ...more });

  it("Enter sends, Shift+Enter is left to the browser (a new line)", () => {
    expect(composerAction(key("Enter"), false)).toBe("send");
    expect(composerAction(key("Enter", { shiftKey: true }), false)).toBeNull();
    expect(composerAction(key("a"), false)).toBeNull();
  });

  it("never sends while an input method composes", () => {
    expect(composerAction(key("Enter", { isComposing: true }), false)).toBeNull();
    expect(composerAction(key("Enter", { keyCode: 229 }), false)).toBeNull(); // Safari
    expect(composerAction(key("Enter", { isComposing: true }), true)).toBeNull();
  });

  it("with the mention menu open: arrows move, Enter or Tab pick, Escape closes", () => {
    expect(composerAction(key("ArrowDown"), true)).toBe("menu-next");
    expect(composerAction(key("ArrowUp"), true)).toBe("menu-prev");
    expect(composerAction(key("Enter"), true)).toBe("menu-pick");
    expect(composerAction(key("Tab"), true)).toBe("menu-pick");
    expect(composerAction(key("Escape"), true)).toBe("menu-close");
    expect(composerAction(key("Tab"), false)).toBeNull();
    expect(composerAction(key("ArrowDown"), false)).toBeNull();
  });

  it("Escape drops the reply being written, after closing the mention menu", () => {
    expect(composerAction(key("Escape"), false, true)).toBe("cancel-reply");
    expect(composerAction(key("Escape"), true, true)).toBe("menu-close");
    expect(composerAction(key("Escape"), false, false)).toBeNull();
    expect(composerAction(key("Escape", { isComposing: true }), false, true)).toBeNull(); // the IME's own Escape
  });

  it("inserts at the caret, replacing a selection", () => {
    expect(insertAtCaret("hello world", 5, 5, " 🙂")).toEqual({ text: "hello 🙂 world", caret: 8 });
    expect(insertAtCaret("hello world", 6, 11, "🌍")).toEqual({ text: "hello 🌍", caret: 8 });
    expect(insertAtCaret("", 3, 9, "x")).toEqual({ text: "x", caret: 1 });
  });

  it("steps through a menu, wrapping around", () => {
    expect(step(0, 3, 1)).toBe(1);
    expect(step(2, 3, 1)).toBe(0);
    expect(step(0, 3, -1)).toBe(2);
    expect(step(0, 0, 1)).toBe(0);
  });
});

describe("dropped and pasted files", () => {
  const file = (name: string, type: string, size = 3) => new File(["x".repeat(size)], name, { type });
  const transfer = (files: File[], types = ["Files"], text = "") => ({
    files: Object.assign([...files], { item: (i: number) => files[i] ?? null }),
    items: [],
    types,
    getData: (type: string) => (type === "text/plain" ? text : ""),
  }) as unknown as DataTransfer;

  it("takes the files of a transfer, from its items when files is empty (some pastes)", () => {
    const a = file("a.png", "image/png");
    expect(filesIn(transfer([a]))).toEqual([a]);
    const items = [{ kind: "string", getAsFile: () => null }, { kind: "file", getAsFile: () => a }];
    expect(filesIn({ files: [], items, types: ["Files"] } as unknown as DataTransfer)).toEqual([a]);
    expect(filesIn(null)).toEqual([]);
  });

  it("pastes text when the clipboard has text besides a picture of it (office apps)", () => {
    const shot = file("image.png", "image/png");
    expect(pastedFiles(transfer([shot]))).toEqual([shot]);
    expect(pastedFiles(transfer([shot], ["text/plain", "text/html", "Files"], "A1\tB1"))).toEqual([]);
    expect(pastedFiles(transfer([shot], ["text/plain", "Files"], "  "))).toEqual([shot]);
  });

  it("tells a drag of files from a drag of text", () => {
    expect(dragHasFiles(transfer([], ["Files"]))).toBe(true);
    expect(dragHasFiles(transfer([], ["text/plain"]))).toBe(false);
  });

  it("previews pictures as pictures, and refuses an empty file before sending it", () => {
    expect(previewKind("image/png")).toBe("image");
    expect(previewKind("image/svg+xml")).toBe("file");
    expect(previewKind("video/mp4")).toBe("video");
    expect(fileProblem(file("dir", "", 0))).toMatch(/is empty/);
    expect(fileProblem(file("a.txt", "text/plain"))).toBeNull();
  });
});

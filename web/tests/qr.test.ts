import { describe, expect, it } from "vitest";
import { codeOf, qrLink, shown } from "../src/qr";

const CODE = "0123456789ABCDEFGHJK";

describe("QR login codes", () => {
  it("reads a code from a link or as people type it", () => {
    for (const text of [CODE, "01234-56789-abcde-fghjk", " 01234 56789 ABCDE FGHJK\n", "O1234-56789-ABCDE-FGHJK",
      `https://chat.example.com/qr/${CODE}`, `http://127.0.0.1:8766/qr/${CODE}?x=1#y`]) {
      expect(codeOf(text)).toBe(CODE);
    }
  });
  it("finds no code in anything else", () => {
    for (const text of ["", CODE.slice(1), CODE + "M", "UUUUUUUUUUUUUUUUUUUU", `https://x/i/${CODE}/more`]) {
      expect(codeOf(text)).toBeNull();
    }
  });
  it("shows and links a code", () => {
    expect(shown(CODE)).toBe("01234-56789-ABCDE-FGHJK");
    expect(qrLink("https://chat.example.com/", CODE)).toBe(`https://chat.example.com/qr/${CODE}`);
  });
});

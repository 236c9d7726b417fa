import { describe, expect, it } from "vitest";
import { decryptFile, encryptFile } from "../../src/crypto/attachment";

describe("files of encrypted rooms", () => {
  it("round-trips, and refuses a ciphertext changed after it was hashed", async () => {
    const data = new Uint8Array(new TextEncoder().encode("a photo's bytes, say".repeat(100)));
    const { ciphertext, media } = await encryptFile(data.buffer, "image/png", "cat.png");
    expect(media).toMatchObject({ mime: "image/png", name: "cat.png", size: data.length });
    expect(new TextDecoder().decode(ciphertext)).not.toContain("photo");
    const back = await decryptFile(ciphertext.buffer, { ...media, id: "m1" });
    expect(new TextDecoder().decode(back)).toBe(new TextDecoder().decode(data));
    const bad = ciphertext.slice();
    bad[5] = (bad[5] ?? 0) ^ 1;
    await expect(decryptFile(bad.buffer, { ...media, id: "m1" })).rejects.toThrow("the file was changed after it was sent");
  });
});

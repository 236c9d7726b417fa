// QR login codes (docs/protocol.md 3.9), as protocol/qr.py has them: 20 characters of Crockford's base32,
// shown in groups of five, put in the QR as <origin>/qr/<code>.
export const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CODE = new RegExp(`^[${ALPHABET}]{20}$`);
const LINK_PATH = "/qr/";

/** The code in a scanned link or a pasted code (any case, dashes or spaces, O/I/L for 0/1); null if none. */
export function codeOf(text: string): string | null {
  let t = text.trim();
  const at = t.lastIndexOf(LINK_PATH);
  if (at >= 0) t = t.slice(at + LINK_PATH.length).split(/[?#]/)[0]!;
  const code = t.replace(/[\s-]/g, "").toUpperCase().replace(/O/g, "0").replace(/[IL]/g, "1");
  return CODE.test(code) ? code : null;
}

/** The code as people read it: XXXXX-XXXXX-XXXXX-XXXXX. */
export const shown = (code: string) => code.match(/.{1,5}/g)?.join("-") ?? code;

/** What the QR holds: the web client's page for this code, so a phone's own camera app opens it here. */
export const qrLink = (origin: string, code: string) => `${origin.replace(/\/$/, "")}${LINK_PATH}${code}`;

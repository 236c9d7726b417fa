// SAS verification's pure parts (docs/e2ee.md §6): the info strings both sides feed the shared secret, and
// the 7 emoji (Matrix's SAS emoji table, so users of other clients see the same pictures and names) or the
// 3 numbers taken from its 6 bytes.

export const sasInfo = (initiatorUser: number, initiatorDevice: string, responderUser: number, responderDevice: string, txn: string): string =>
  `chatd-sas:v1:${initiatorUser}:${initiatorDevice}:${responderUser}:${responderDevice}:${txn}`;

export const sasMacInfo = (txn: string, senderDevice: string): string => `chatd-sas-mac:v1:${txn}:${senderDevice}`;

/** The Matrix SAS emoji table: index -> [emoji, name]. */
export const SAS_EMOJI: readonly (readonly [string, string])[] = [
  ["🐶", "Dog"], ["🐱", "Cat"], ["🦁", "Lion"], ["🐎", "Horse"], ["🦄", "Unicorn"], ["🐷", "Pig"], ["🐘", "Elephant"],
  ["🐰", "Rabbit"], ["🐼", "Panda"], ["🐓", "Rooster"], ["🐧", "Penguin"], ["🐢", "Turtle"], ["🐟", "Fish"],
  ["🐙", "Octopus"], ["🦋", "Butterfly"], ["🌷", "Flower"], ["🌳", "Tree"], ["🌵", "Cactus"], ["🍄", "Mushroom"],
  ["🌏", "Globe"], ["🌙", "Moon"], ["☁️", "Cloud"], ["🔥", "Fire"], ["🍌", "Banana"], ["🍎", "Apple"],
  ["🍓", "Strawberry"], ["🌽", "Corn"], ["🍕", "Pizza"], ["🎂", "Cake"], ["❤️", "Heart"], ["😀", "Smiley"],
  ["🤖", "Robot"], ["🎩", "Hat"], ["👓", "Glasses"], ["🔧", "Spanner"], ["🎅", "Santa"], ["👍", "Thumbs Up"],
  ["☂️", "Umbrella"], ["⌛", "Hourglass"], ["⏰", "Clock"], ["🎁", "Gift"], ["💡", "Light Bulb"], ["📕", "Book"],
  ["✏️", "Pencil"], ["📎", "Paperclip"], ["✂️", "Scissors"], ["🔒", "Lock"], ["🔑", "Key"], ["🔨", "Hammer"],
  ["☎️", "Telephone"], ["🏁", "Flag"], ["🚂", "Train"], ["🚲", "Bicycle"], ["✈️", "Aeroplane"], ["🚀", "Rocket"],
  ["🏆", "Trophy"], ["⚽", "Ball"], ["🎸", "Guitar"], ["🎺", "Trumpet"], ["🔔", "Bell"], ["⚓", "Anchor"],
  ["🎧", "Headphones"], ["📁", "Folder"], ["📌", "Pin"],
];

/** The 7 emoji indices: the first 42 bits of the 6 bytes, 6 bits each. */
export function emojiIndices(bytes: Uint8Array): number[] {
  if (bytes.length < 6) throw new Error("SAS needs 6 bytes");
  let bits = 0n;
  for (const b of bytes.slice(0, 6)) bits = (bits << 8n) | BigInt(b);
  return Array.from({ length: 7 }, (_, i) => Number((bits >> BigInt(42 - 6 * i)) & 63n));
}

export const sasEmoji = (bytes: Uint8Array): (readonly [string, string])[] =>
  emojiIndices(bytes).map((i) => SAS_EMOJI[i] ?? ["?", "?"]);

/** The 3 numbers (1000–9191): the first 39 bits in 13-bit groups, plus 1000. */
export function sasDecimals(bytes: Uint8Array): [number, number, number] {
  const b = Array.from(bytes.slice(0, 5));
  const [b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0] = b;
  return [
    ((b0 << 5) | (b1 >> 3)) + 1000,
    (((b1 & 0x7) << 10) | (b2 << 2) | (b3 >> 6)) + 1000,
    (((b3 & 0x3f) << 7) | (b4 >> 1)) + 1000,
  ];
}

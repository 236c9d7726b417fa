// Sending one message in an end-to-end encrypted room (docs/e2ee.md §3, docs/protocol.md §12.4): the room's
// members are looked up, the Megolm key is shared with their devices, and the `send` names the member list
// (`members_seq`) the key went to. When the membership changed meanwhile (a removal this client had not seen)
// the server refuses with `conflict` and stores nothing: the members are fetched again, the machine makes a
// new session for the new list (a session is only used for the list it was shared with) and shares its key,
// and the same client_id is sent again, a few times at most.
import type { RoomMembers } from "../crypto/machine";
import type { MegolmPayload } from "../crypto/wire";
import { ChatError } from "../protocol/client";

/** Tries of one message while the room's membership keeps changing under it (then: `retry`, later). */
export const MEMBER_RACES = 5;

export interface EncryptedSendSteps<Sent> {
  /** The room's members as the server has them now (asked again on every try). */
  members(): Promise<RoomMembers>;
  /** The `encrypted` field for those members, their devices holding its key (CryptoMachine.encrypt). */
  encrypt(members: RoomMembers): Promise<MegolmPayload>;
  /** The `send` frame with the same client_id on every try, and `members_seq`. */
  send(encrypted: MegolmPayload, membersSeq: number): Promise<Sent>;
}

/** Send until the server takes it; what it answered and the `encrypted` field it stored. */
export async function sendEncrypted<Sent>(room: number, steps: EncryptedSendSteps<Sent>): Promise<{ sent: Sent; encrypted: MegolmPayload }> {
  for (let race = 0; race < MEMBER_RACES; race++) {
    const members = await steps.members();
    const encrypted = await steps.encrypt(members);
    try {
      return { sent: await steps.send(encrypted, members.seq), encrypted };
    } catch (err) {
      if (!(err instanceof ChatError) || err.code !== "conflict") throw err;
    }
  }
  throw new ChatError("retry", `The members of room ${room} keep changing: the message will be sent again.`);
}

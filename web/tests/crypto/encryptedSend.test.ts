import { beforeAll, describe, expect, it } from "vitest";
import { CryptoMachine } from "../../src/crypto/machine";
import { loadOlm } from "../../src/crypto/olm";
import { MemoryStore, SealedStore } from "../../src/crypto/store";
import type { CryptoTransport, MegolmPayload } from "../../src/crypto/wire";
import { ChatError } from "../../src/protocol/client";
import { MEMBER_RACES, sendEncrypted, type EncryptedSendSteps } from "../../src/store/encryptedSend";
import { FakeServer } from "./fakeServer";

beforeAll(() => loadOlm());

const ROOM = 7;

async function device(server: FakeServer, user: number, device: string, wrap: (t: CryptoTransport) => CryptoTransport = (t) => t) {
  const store = await SealedStore.open(new MemoryStore(), crypto.getRandomValues(new Uint8Array(32)));
  const m = await CryptoMachine.open({ me: { user, device }, store, transport: wrap(server.transport(user, device)), log: () => undefined });
  await m.publishKeys();
  return m;
}

/** The room actor's side of §12.4: the member list with its members_seq, and `send` refusing a stale one. */
class Room {
  seq = 10;
  stored: { client_id: string; encrypted: MegolmPayload }[] = [];
  sends: { client_id: string; members_seq: number }[] = [];
  /** Runs when a send reaches the room, before it is judged (a removal racing the send). */
  beforeSend: () => void = () => undefined;

  constructor(public members: number[]) {}

  remove(user: number) {
    this.members = this.members.filter((u) => u !== user);
    this.seq += 1;
  }

  steps(machine: CryptoMachine, clientId: string): EncryptedSendSteps<{ seq: number }> {
    return {
      members: async () => ({ users: [...this.members], seq: this.seq }),
      encrypt: (members) => machine.encrypt(ROOM, members, { kind: "text", body: `message ${clientId}` }),
      send: async (encrypted, membersSeq) => {
        this.sends.push({ client_id: clientId, members_seq: membersSeq });
        this.beforeSend();
        if (membersSeq < this.seq) throw new ChatError("conflict", `the members of room ${ROOM} changed at seq ${this.seq}: share a new key with them and send again`);
        this.stored.push({ client_id: clientId, encrypted });
        return { seq: this.stored.length };
      },
    };
  }
}

describe("sending in an encrypted room", () => {
  it("shares a new key without a member removed during the send, and sends the same message again", async () => {
    const server = new FakeServer();
    const ann = await device(server, 1, "a1");
    const bob = await device(server, 2, "b1");
    const carl = await device(server, 3, "c1");
    const room = new Room([1, 2, 3]);
    let raced = false;
    room.beforeSend = () => {
      if (!raced) room.remove(3); // carl is removed after ann looked the members up, before her send arrives
      raced = true;
    };
    const { sent, encrypted } = await sendEncrypted(ROOM, room.steps(ann, "m1"));
    expect(sent).toEqual({ seq: 1 });
    expect(room.sends).toEqual([{ client_id: "m1", members_seq: 10 }, { client_id: "m1", members_seq: 11 }]);
    expect(room.stored.map((m) => m.encrypted)).toEqual([encrypted]);

    await bob.receiveToDevice(server.take(2, "b1"));
    expect(await bob.decrypt(ROOM, 1, encrypted)).toMatchObject({ state: "ok", content: { body: "message m1" } });
    await carl.receiveToDevice(server.take(3, "c1")); // carl got the first key, not the one of what was stored
    expect((await carl.decrypt(ROOM, 1, encrypted)).state).toBe("pending");
  });

  it("gives up with retry while the members keep changing, having stored nothing", async () => {
    const server = new FakeServer();
    const ann = await device(server, 1, "a1");
    await device(server, 2, "b1");
    const room = new Room([1, 2]);
    room.beforeSend = () => { room.seq += 1; }; // a join or a departure under every try
    const err = await sendEncrypted(ROOM, room.steps(ann, "m3")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChatError);
    expect((err as ChatError).code).toBe("retry");
    expect(room.sends.length).toBe(MEMBER_RACES);
    expect(new Set(room.sends.map((s) => s.client_id))).toEqual(new Set(["m3"]));
    expect(room.stored).toEqual([]);
  });

  it("does not send again on another refusal, nor when the key could not be shared", async () => {
    const server = new FakeServer();
    let shareFails = true;
    const ann = await device(server, 1, "a1", (t) => ({ ...t, sendToDevice: (txn, m) => (shareFails ? Promise.reject(new ChatError("offline", "offline")) : t.sendToDevice(txn, m)) }));
    const bob = await device(server, 2, "b1");
    const room = new Room([1, 2]);
    await expect(sendEncrypted(ROOM, room.steps(ann, "m4"))).rejects.toThrow("offline");
    expect(room.sends).toEqual([]); // no message under a key some devices may lack

    shareFails = false;
    room.beforeSend = () => { throw new ChatError("forbidden", "you are not a member of this room"); };
    await expect(sendEncrypted(ROOM, room.steps(ann, "m4"))).rejects.toThrow("not a member");
    expect(room.sends.length).toBe(1);

    room.beforeSend = () => undefined;
    const { encrypted } = await sendEncrypted(ROOM, room.steps(ann, "m4"));
    await bob.receiveToDevice(server.take(2, "b1"));
    expect(await bob.decrypt(ROOM, 1, encrypted)).toMatchObject({ state: "ok", content: { body: "message m4" } });
  });
});

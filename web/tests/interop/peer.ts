/// <reference types="node" />
// One web crypto machine driven over stdin/stdout, one JSON request per line, for tests/test_e2ee_interop.py:
// the Python side is a vodozemac device built from docs/e2ee.md alone, so the two must meet on the wire.
// The server is scripted: the test says which devices exist and which one-time key a claim gets, and reads
// what the machine sent.
import { createInterface } from "node:readline";
import { CryptoMachine, type CryptoEvent } from "../../src/crypto/machine";
import { loadOlm } from "../../src/crypto/olm";
import { MemoryStore, SealedStore } from "../../src/crypto/store";
import { decryptFile } from "../../src/crypto/attachment";
import { fromBase64, toBase64 } from "../../src/crypto/encoding";
import type { BackupEntry, BackupInfo, ClaimedKey, CryptoTransport, DeviceKeyInfo, ToDeviceOut } from "../../src/crypto/wire";

const peers: DeviceKeyInfo[] = [];
const claims = new Map<string, ClaimedKey[]>();
let outbox: ToDeviceOut[] = [];
let uploaded: unknown = null;
let backup: { info: BackupInfo; entries: BackupEntry[] } | null = null;
const events: CryptoEvent[] = [];
let machine: CryptoMachine | null = null;

const transport: CryptoTransport = {
  uploadKeys: async (req) => {
    uploaded = req;
    return { one_time_keys: req.one_time_keys?.length ?? 0, fallback: !!req.fallback_key };
  },
  queryKeys: async (users) => peers.filter((p) => users.includes(p.user)),
  claimKeys: async (devices) => devices.flatMap((d) => claims.get(`${d.user}:${d.device}`)?.splice(0, 1) ?? []),
  sendToDevice: async (_txn, messages) => {
    outbox.push(...messages);
  },
  createBackup: async (auth) => {
    backup = { info: { version: (backup?.info.version ?? 0) + 1, auth }, entries: [] };
    return backup.info;
  },
  getBackup: async () => backup?.info ?? null,
  putBackupKeys: async (version, keys) => {
    if (!backup || backup.info.version !== version) throw new Error("conflict");
    backup.entries = [...backup.entries.filter((e) => !keys.some((k) => k.room === e.room && k.session_id === e.session_id)), ...keys];
  },
  getBackupKeys: async (version) => {
    if (!backup || backup.info.version !== version) throw new Error("conflict");
    return { keys: backup.entries, more: false };
  },
};

function drain(): { outbox: ToDeviceOut[]; events: CryptoEvent[] } {
  const out = { outbox, events: events.splice(0) };
  outbox = [];
  return out;
}

type Args = Record<string, unknown>;
const need = (): CryptoMachine => {
  if (!machine) throw new Error("init first");
  return machine;
};

const ops: Record<string, (a: Args) => Promise<unknown>> = {
  async init(a) {
    await loadOlm();
    const store = await SealedStore.open(new MemoryStore(), crypto.getRandomValues(new Uint8Array(32)));
    machine = await CryptoMachine.open({
      me: { user: a.user as number, device: a.device as string }, store, transport,
      streamWaitMs: 60_000, log: (m) => process.stderr.write(`[peer] ${m}\n`),
    });
    machine.on((e) => events.push(e));
    await machine.publishKeys();
    return { identity_key: machine.identityKey, signing_key: machine.signingKey, upload: uploaded };
  },
  async add_peer(a) {
    const info = a.info as DeviceKeyInfo;
    peers.push(info);
    if (a.claim) claims.set(`${info.user}:${info.device}`, [a.claim as ClaimedKey]);
    need().devicesChanged(info.user);
    return null;
  },
  async device(a) {
    await need().refreshDevices([a.user as number]);
    return need().devices.get(a.user as number, a.device as string) ?? null;
  },
  async receive(a) {
    await need().receiveToDevice(a.messages as never);
    return drain();
  },
  async encrypt(a) {
    const members = { users: a.members as number[], seq: (a.members_seq as number | undefined) ?? 0 };
    const payload = await need().encrypt(a.room as number, members, a.content as never);
    return { payload, ...drain() };
  },
  async decrypt(a) {
    return need().decrypt(a.room as number, a.sender as number, a.payload as never);
  },
  async verify_request(a) {
    const txn = await need().verifications.request(a.user as number, a.device as string);
    return { txn, ...drain() };
  },
  async verify_confirm(a) {
    await need().verifications.confirm(a.txn as string);
    return drain();
  },
  async verifications() {
    return need().verifications.list();
  },
  async create_backup() {
    const recovery_key = await need().createBackup();
    return { recovery_key, backup };
  },
  async set_backup(a) {
    backup = a.backup as typeof backup;
    return null;
  },
  async decrypt_file(a) {
    const bytes = await decryptFile(fromBase64(a.ciphertext as string).buffer, a.media as never);
    return toBase64(bytes);
  },
  async use_recovery_key(a) {
    return need().useRecoveryKey(a.text as string);
  },
};

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  let reply: unknown;
  try {
    const req = JSON.parse(line) as Args & { op: string };
    const op = ops[req.op];
    if (!op) throw new Error(`unknown op ${req.op}`);
    reply = { ok: (await op(req)) ?? null };
  } catch (err) {
    reply = { error: err instanceof Error ? err.message : String(err) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
}

// A web client's device in libolm (@towns-protocol/olm), for tests/unit/test_crypto_libolm.py: each run
// reads one JSON step on stdin and writes its result on stdout; the account and sessions travel as pickles.
const Olm = (await import(process.env.OLM_MODULE)).default;
await Olm.initAsync();
const fs = await import("fs");
const step = JSON.parse(fs.readFileSync(0, "utf8"));
const KEY = "test pickle key";
const out = {};

if (step.step === "publish") {
  const acc = new Olm.Account();
  acc.create();
  const ids = JSON.parse(acc.identity_keys());
  const [user, device] = [step.user, step.device];
  const statement = `chatd-device-keys:v1:${user}:${device}:${ids.curve25519}:${ids.ed25519}`;
  out.device = { user, device, identity_key: ids.curve25519, signing_key: ids.ed25519, signature: acc.sign(statement) };
  acc.generate_one_time_keys(1);
  const [[keyId, key]] = Object.entries(JSON.parse(acc.one_time_keys()).curve25519);
  out.claimed = { user, device, key_id: keyId, key, signature: acc.sign(`chatd-otk:v1:${user}:${device}:${keyId}:${key}`) };
  acc.mark_keys_as_published();
  out.account = acc.pickle(KEY);
} else if (step.step === "receive_and_reply") {
  const acc = new Olm.Account();
  acc.unpickle(KEY, step.account);
  const env = JSON.parse(step.body);
  const session = new Olm.Session();
  session.create_inbound_from(acc, env.sender_key, env.ciphertext);
  acc.remove_one_time_keys(session);
  out.olm_plaintext = JSON.parse(session.decrypt(env.type, env.ciphertext));
  const inbound = new Olm.InboundGroupSession();
  inbound.create(out.olm_plaintext.content.session_key);
  out.room_plaintext = JSON.parse(inbound.decrypt(step.encrypted.ciphertext).plaintext);
  // reply: a room key of our own over the same Olm session, then a room message
  const group = new Olm.OutboundGroupSession();
  group.create();
  const ids = JSON.parse(acc.identity_keys());
  const me = step.me, them = out.olm_plaintext;
  const plaintext = {
    type: "room_key", sender: me.user, sender_device: me.device, recipient: them.sender,
    recipient_device: them.sender_device, recipient_key: them.sender_signing_key, sender_signing_key: ids.ed25519,
    content: { room: step.room, session_id: group.session_id(), session_key: group.session_key() },
  };
  const msg = session.encrypt(JSON.stringify(plaintext));
  out.reply_body = JSON.stringify({ algorithm: "olm.v1", sender_key: ids.curve25519, type: msg.type, ciphertext: msg.body });
  out.encrypted = {
    algorithm: "megolm.v1", session_id: group.session_id(), sender_key: ids.curve25519, device: me.device,
    ciphertext: group.encrypt(JSON.stringify({ room: step.room, kind: "text", body: "hello from the browser" })),
  };
}
process.stdout.write(JSON.stringify(out));

// The frames of docs/protocol.md as the web client uses them. Their shapes come from frames.gen.ts, which
// `npm run gen:types` generates from the server's own frame definitions (protocol/frames.py, through
// schema.json): a field changed there shows up here as a type error, not as a surprise at run time. This file
// only names those shapes the way the client code does, and adds what a schema cannot say: which reply each
// request gets, the typed fields of a system message's `event`, `hello.cursors` as the Map msgpack needs, and
// the few fields the client's own records (not yet from the server) may leave out.
import type * as gen from "./frames.gen";

export type Role = gen.Member["role"];
export type MessageKind = gen.Message["kind"];
export type MediaKind = Exclude<NonNullable<gen.Send["kind"]>, "text" | "encrypted">;
export type VisibilityLevel = NonNullable<gen.ProfileInfo["visibility"]>[string];
export type ProfileField = "display_name" | "about" | "avatar" | "last_seen";

export type Media = gen.Media;
/** What a `send` says of its media item (the id comes from the HTTP upload). */
export type MediaRef = gen.MediaRef;

/** A system message's event: a map on the wire (its keys depend on `type`, docs/protocol.md 4). */
export interface SystemEvent {
  type: string;
  by?: number;
  user?: number;
  target?: number;
  body?: string;
  name?: string | null;
  role?: Role;
  members?: number[];
  via?: string;
  invites_revoked?: boolean;
  [key: string]: unknown;
}

/** `deleted` may be left out of the messages the client makes itself (a send not yet stored). */
export type Message = Omit<gen.Message, "event" | "deleted"> & { event?: SystemEvent; deleted?: boolean };
export type Reaction = gen.Reaction;
/** One other member's cursors, as `get_receipts` reports them. */
export type MemberReceipt = gen.MemberReceipt;
export type Member = gen.Member;
export type RoomInfo = gen.RoomInfo;
/** `mentions` and `muted` may be left out of the summaries the client makes itself (a room just opened). */
export type RoomSummary = Omit<gen.RoomSummary, "last_message" | "mentions" | "muted"> & {
  last_message?: Message;
  mentions?: number;
  muted?: boolean;
};
/** What an invite link leads to (preview_invite), before joining. */
export type InvitePreview = Omit<gen.InvitePreview, "t" | "id">;
export type InviteInfo = gen.InviteInfo;
export type Profile = Omit<gen.ProfileInfo, "visibility"> & {
  visibility?: Partial<Record<ProfileField, VisibilityLevel>>;
};
/** One signed-in device of this account (docs/protocol.md 3.8). */
export type DeviceInfo = gen.DeviceInfo;
/** Who asks to sign in with a QR login code (docs/protocol.md 3.9), as the server saw them. */
export type QrLoginRequest = Omit<gen.QrLoginRequest, "t" | "id">;
export type PresenceInfo = gen.PresenceInfo;
export type AuthOk = Omit<gen.AuthOk, "t" | "id">;

type ServerFrameType = gen.ServerFrame["t"];
type Body<F> = Omit<F, "t">;
/** Server frames that carry messages or profiles: with the refined Message and Profile above. */
interface Refined {
  msgs: Omit<Body<gen.Msgs>, "messages"> & { messages: Message[] };
  history_page: Omit<Body<gen.HistoryPage>, "messages"> & { messages: Message[] };
  rooms: { id: number; rooms: RoomSummary[] };
  profile: { id: number; profile: Profile };
  users: { id: number; users: Profile[] };
}

/** Server frames by type. Replies carry the request `id`; pushes do not. */
export type ServerFrames = {
  [K in ServerFrameType]: K extends keyof Refined ? Refined[K] : Body<Extract<gen.ServerFrame, { t: K }>>;
};

export type AnyServerFrame = { [K in ServerFrameType]: ServerFrames[K] & { t: K } }[ServerFrameType];
export type PushFrame = Extract<AnyServerFrame, { t: "msgs" | "status" | "receipt_counts" | "counts" | "typing_changed" | "presence_changed" | "error" | "to_device" | "devices_changed" }>;

/** A client frame's fields, without `t` and the request `id` the client adds. */
type Req<K extends gen.ClientFrame["t"]> = Omit<Extract<gen.ClientFrame, { t: K }>, "t" | "id">;

/** Requests (without `id`) and the reply type each one gets. */
export interface Requests {
  signup: { req: Req<"signup">; res: "auth_ok" };
  login: { req: Req<"login">; res: "auth_ok" };
  refresh: { req: Req<"refresh">; res: "auth_ok" };
  logout: { req: Req<"logout">; res: "ok" };
  hello: { req: Omit<Req<"hello">, "version" | "cursors"> & { version: 1; cursors?: Map<number, number> }; res: "welcome" };
  auth: { req: Req<"auth">; res: "ok" };
  ping: { req: Req<"ping">; res: "ok" };
  open_direct: { req: Req<"open_direct">; res: "room" };
  create_group: { req: Req<"create_group">; res: "room" };
  add_members: { req: Req<"add_members">; res: "ok" };
  remove_member: { req: Req<"remove_member">; res: "ok" };
  leave: { req: Req<"leave">; res: "ok" };
  ban: { req: Req<"ban">; res: "ok" };
  unban: { req: Req<"unban">; res: "ok" };
  set_role: { req: Req<"set_role">; res: "ok" };
  update_room: { req: Req<"update_room">; res: "ok" };
  get_room: { req: Req<"get_room">; res: "room" };
  list_rooms: { req: Req<"list_rooms">; res: "rooms" };
  send: { req: Req<"send">; res: "sent" };
  react: { req: Req<"react">; res: "ok" };
  unreact: { req: Req<"unreact">; res: "ok" };
  get_receipts: { req: Req<"get_receipts">; res: "receipts" };
  edit: { req: Req<"edit">; res: "ok" };
  delete: { req: Req<"delete">; res: "ok" };
  history: { req: Req<"history">; res: "history_page" };
  create_invite: { req: Req<"create_invite">; res: "invite" };
  list_invites: { req: Req<"list_invites">; res: "invites" };
  revoke_invite: { req: Req<"revoke_invite">; res: "ok" };
  join: { req: Req<"join">; res: "ok" };
  preview_invite: { req: Req<"preview_invite">; res: "invite_preview" };
  mute: { req: Req<"mute">; res: "ok" };
  settings: { req: Req<"settings">; res: "ok" };
  update_profile: { req: Omit<Req<"update_profile">, "visibility"> & { visibility?: Profile["visibility"] }; res: "profile" };
  get_profile: { req: Req<"get_profile">; res: "profile" };
  search_users: { req: Req<"search_users">; res: "users" };
  get_presence: { req: Req<"get_presence">; res: "presence" };
  list_devices: { req: Req<"list_devices">; res: "devices" };
  logout_devices: { req: { device: string } | { others: true }; res: "logged_out" };
  change_password: { req: Req<"change_password">; res: "ok" };
  delete_account: { req: Req<"delete_account">; res: "ok" };
  qr_login_preview: { req: Req<"qr_login_preview">; res: "qr_login_request" };
  qr_login_answer: { req: Req<"qr_login_answer">; res: "ok" };
  // end-to-end encryption (docs/protocol.md 12)
  upload_keys: { req: Req<"upload_keys">; res: "key_counts" };
  query_keys: { req: Req<"query_keys">; res: "device_keys" };
  claim_keys: { req: Req<"claim_keys">; res: "claimed_keys" };
  send_to_device: { req: Req<"send_to_device">; res: "ok" };
  create_backup: { req: Req<"create_backup">; res: "backup" };
  get_backup: { req: Req<"get_backup">; res: "backup" };
  put_backup_keys: { req: Req<"put_backup_keys">; res: "ok" };
  get_backup_keys: { req: Req<"get_backup_keys">; res: "backup_keys" };
}
export type RequestType = keyof Requests;
export type Reply<K extends RequestType> = ServerFrames[Requests[K]["res"]];

/** Frames without an id or reply. */
export interface Notices {
  ack: Req<"ack">;
  read: Req<"read">;
  typing: Req<"typing">;
  ack_to_device: Req<"ack_to_device">;
}

// Frames of docs/protocol.md, as the server sends them (msgpack maps with `t`).

export type Role = "owner" | "admin" | "member";
export type MessageKind = "text" | "image" | "video" | "audio" | "file" | "system";
export type MediaKind = "image" | "video" | "audio" | "file";
export type VisibilityLevel = "everyone" | "contacts" | "nobody";

export interface Media {
  id: string;
  mime: string;
  size: number;
  width?: number;
  height?: number;
  duration_ms?: number;
  file_name?: string;
  thumbnail_id?: string;
}

/** What a `send` says of its media item (the id comes from the HTTP upload). */
export interface MediaRef {
  id: string;
  duration_ms?: number;
  width?: number;
  height?: number;
}

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

export interface Message {
  room: number;
  seq: number;
  ts: number;
  kind: MessageKind;
  sender?: number;
  client_id?: string;
  body?: string;
  event?: SystemEvent;
  edited_ts?: number;
  deleted?: boolean;
  media?: Media;
  /** The seq of the message this one answers. */
  reply_to?: number;
  /** One entry per emoji, in first-use order; the users in the order they reacted. */
  reactions?: Reaction[];
}

export interface Reaction { emoji: string; users: number[] }

/** One other member's cursors, as `get_receipts` reports them. */
export interface MemberReceipt { user: number; delivered_seq: number; read_seq?: number }

export interface Member { user: number; username: string; role: Role }

export interface RoomInfo {
  room: number;
  kind: "direct" | "group";
  name?: string;
  history_visibility: "shared" | "joined";
  last_seq: number;
  description?: string;
  icon?: string;
  members: Member[];
}

export interface RoomSummary {
  room: number;
  kind: "direct" | "group";
  name?: string;
  last_seq: number;
  delivered_seq: number;
  read_seq: number;
  unread: number;
  mentions?: number;
  muted?: boolean;
  member: boolean;
  peer?: number;
  last_message?: Message;
}

/** What an invite link leads to (preview_invite), before joining. */
export interface InvitePreview {
  room: number;
  members: number;
  member: boolean;
  name?: string;
  description?: string;
  icon?: string;
}

export interface InviteInfo {
  code: string;
  room: number;
  created_by: number;
  created_ts: number;
  use_count: number;
  expires_ts?: number;
  max_uses?: number;
  revoked: boolean;
}

export interface Profile {
  user: number;
  username: string;
  display_name?: string;
  about?: string;
  avatar?: string;
  online?: boolean;
  last_seen?: number;
  visibility?: Partial<Record<"display_name" | "about" | "avatar" | "last_seen", VisibilityLevel>>;
}

/** One signed-in device of this account (docs/protocol.md 3.8). */
export interface DeviceInfo { device: string; name?: string; created_ts: number; last_seen_ts: number; current: boolean }

/** Who asks to sign in with a QR login code (docs/protocol.md 3.9), as the server saw them. */
export interface QrLoginRequest { code: string; address: string; expires_in: number; device?: string; user_agent?: string }

export interface PresenceInfo { user: number; online?: boolean; last_seen?: number }

export interface AuthOk {
  user_id: number;
  username: string;
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

/** Server frames by type. Replies carry the request `id`; pushes do not. */
export interface ServerFrames {
  auth_ok: AuthOk & { id: number };
  ok: { id: number };
  welcome: { id: number; version: number; user_id: number; username: string; max_frame_bytes: number };
  error: { id?: number; code: string; message: string; retry_after?: number };
  room: { id: number; room: RoomInfo };
  rooms: { id: number; rooms: RoomSummary[] };
  sent: { id: number; room: number; seq: number; ts: number; client_id: string; duplicate: boolean };
  msgs: { messages: Message[]; backlog: boolean };
  history_page: { id: number; room: number; messages: Message[]; has_more: boolean };
  receipts: { id: number; room: number; others: number; members: MemberReceipt[]; counts: { seq: number; delivered: number; read?: number }[] };
  status: { room: number; user: number; delivered_seq: number; read_seq?: number };
  receipt_counts: { room: number; others: number; counts: { seq: number; delivered: number; read?: number }[] };
  counts: { room: number; unread: number; mentions: number; muted: boolean };
  typing_changed: { room: number; user: number; active: boolean };
  presence_changed: { user: number; online: boolean; last_seen?: number };
  presence: { id: number; users: PresenceInfo[] };
  profile: { id: number; profile: Profile };
  users: { id: number; users: Profile[] };
  invite: { id: number; invite: InviteInfo };
  invites: { id: number; invites: InviteInfo[] };
  invite_preview: InvitePreview & { id: number };
  devices: { id: number; devices: DeviceInfo[] };
  logged_out: { id: number; devices: string[] };
  qr_login_request: QrLoginRequest & { id: number };
}

export type ServerFrameType = keyof ServerFrames;
export type AnyServerFrame = { [K in ServerFrameType]: ServerFrames[K] & { t: K } }[ServerFrameType];
export type PushFrame = Extract<AnyServerFrame, { t: "msgs" | "status" | "receipt_counts" | "counts" | "typing_changed" | "presence_changed" | "error" }>;

/** Requests (without `id`) and the reply type each one gets. */
export interface Requests {
  signup: { req: { username: string; email: string; password: string; device?: string; invite?: string }; res: "auth_ok" };
  login: { req: { username: string; password: string; device?: string }; res: "auth_ok" };
  refresh: { req: { refresh_token: string }; res: "auth_ok" };
  logout: { req: { refresh_token: string }; res: "ok" };
  hello: { req: { version: 1; token: string; cursors?: Map<number, number> }; res: "welcome" };
  auth: { req: { token: string }; res: "ok" };
  ping: { req: Record<string, never>; res: "ok" };
  open_direct: { req: { user: number | string }; res: "room" };
  create_group: { req: { name: string; members?: (number | string)[]; history_visibility?: "shared" | "joined" }; res: "room" };
  add_members: { req: { room: number; users: (number | string)[] }; res: "ok" };
  remove_member: { req: { room: number; user: number | string; revoke_invites?: boolean }; res: "ok" };
  leave: { req: { room: number }; res: "ok" };
  ban: { req: { room: number; user: number | string }; res: "ok" };
  unban: { req: { room: number; user: number | string }; res: "ok" };
  set_role: { req: { room: number; user: number | string; role: "admin" | "member" }; res: "ok" };
  update_room: { req: { room: number; name?: string; description?: string; icon?: string }; res: "ok" };
  get_room: { req: { room: number }; res: "room" };
  list_rooms: { req: Record<string, never>; res: "rooms" };
  send: { req: { room: number; client_id: string; body: string; kind?: MediaKind | "text"; media?: MediaRef; reply_to?: number }; res: "sent" };
  react: { req: { room: number; target: number; emoji: string }; res: "ok" };
  unreact: { req: { room: number; target: number; emoji: string }; res: "ok" };
  get_receipts: { req: { room: number }; res: "receipts" };
  edit: { req: { room: number; seq: number; body: string }; res: "ok" };
  delete: { req: { room: number; seq: number }; res: "ok" };
  history: { req: { room: number; before_seq?: number; limit?: number }; res: "history_page" };
  create_invite: { req: { room: number; expires_in?: number; max_uses?: number }; res: "invite" };
  list_invites: { req: { room: number }; res: "invites" };
  revoke_invite: { req: { room: number; code: string; remove_joined?: boolean }; res: "ok" };
  join: { req: { code: string }; res: "ok" };
  preview_invite: { req: { code: string }; res: "invite_preview" };
  mute: { req: { room: number; muted: boolean }; res: "ok" };
  settings: { req: { read_receipts?: boolean }; res: "ok" };
  update_profile: { req: { display_name?: string; about?: string; avatar?: string; visibility?: Profile["visibility"] }; res: "profile" };
  get_profile: { req: { user?: number | string }; res: "profile" };
  search_users: { req: { query: string; limit?: number }; res: "users" };
  get_presence: { req: { users: number[] }; res: "presence" };
  list_devices: { req: Record<string, never>; res: "devices" };
  logout_devices: { req: { device: string } | { others: true }; res: "logged_out" };
  change_password: { req: { old_password: string; new_password: string }; res: "ok" };
  delete_account: { req: { password: string }; res: "ok" };
  qr_login_preview: { req: { code: string }; res: "qr_login_request" };
  qr_login_answer: { req: { code: string; approve: boolean }; res: "ok" };
}
export type RequestType = keyof Requests;
export type Reply<K extends RequestType> = ServerFrames[Requests[K]["res"]];

/** Frames without an id or reply. */
export interface Notices {
  ack: { room: number; seq: number };
  read: { room: number; seq: number };
  typing: { room: number; active: boolean };
}

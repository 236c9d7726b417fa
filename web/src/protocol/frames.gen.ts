/* Generated from web/src/protocol/schema.json (the frames of protocol/frames.py) by `npm run gen:types`: do not edit. */

/**
 * A frame a client sends.
 */
export type ClientFrame =
  | Ack
  | AckToDevice
  | AddMembers
  | Auth
  | Ban
  | ChangePassword
  | ClaimKeys
  | CreateBackup
  | CreateGroup
  | CreateInvite
  | Delete
  | DeleteAccount
  | Edit
  | GetBackup
  | GetBackupKeys
  | GetPresence
  | GetProfile
  | GetReceipts
  | GetRoom
  | Hello
  | History
  | Join
  | Leave
  | ListDevices
  | ListInviteJoins
  | ListInvites
  | ListRooms
  | Login
  | Logout
  | LogoutDevices
  | Mute
  | OpenDirect
  | Ping
  | PreviewInvite
  | PutBackupKeys
  | QrLoginAnswer
  | QrLoginPreview
  | QueryKeys
  | React
  | Read
  | Refresh
  | RemoveMember
  | RevokeInvite
  | SearchUsers
  | Send
  | SendToDevice
  | SetRole
  | Settings
  | Signup
  | TransferOwnership
  | Typing
  | Unban
  | Unreact
  | UpdateProfile
  | UpdateRoom
  | UploadKeys;
/**
 * A frame the server sends.
 */
export type ServerFrame =
  | AuthOk
  | Backup
  | BackupKeys
  | ClaimedKeys
  | Counts
  | DeviceKeysList
  | Devices
  | DevicesChanged
  | Error
  | HistoryPage
  | Invite
  | InviteJoins
  | InvitePreview
  | Invites
  | KeyCounts
  | LoggedOut
  | Msgs
  | Ok
  | Presence
  | PresenceChanged
  | Profile
  | QrLoginRequest
  | ReceiptCounts
  | RoomReceipts
  | Room
  | Rooms
  | Sent
  | Status
  | ToDevice
  | TypingChanged
  | Users
  | Welcome;

/**
 * Every frame of the chatd websocket protocol (docs/protocol.md), generated from protocol/frames.py by `python -m chatd.protocol.json_schema`: do not edit.
 */
export interface ChatdProtocol {
  client: ClientFrame;
  server: ServerFrame;
}
/**
 * Cumulative: I have every message of `room` up to `seq`. No reply.
 */
export interface Ack {
  t: "ack";
  room: number;
  seq: number;
}
/**
 * Cumulative: delete this device's to-device messages up to `upto`. No reply.
 */
export interface AckToDevice {
  t: "ack_to_device";
  upto: number;
}
export interface AddMembers {
  t: "add_members";
  id: number;
  room: number;
  /**
   * @minItems 1
   * @maxItems 100
   */
  users: (number | string)[];
}
/**
 * Replace the connection's access token before it expires (in-band refresh).
 */
export interface Auth {
  t: "auth";
  id: number;
  token: string;
}
/**
 * Remove `user` (if a member) and keep them out: no add or invite lets them back until `unban`.
 */
export interface Ban {
  t: "ban";
  id: number;
  room: number;
  user: number | string;
}
/**
 * Every other device is signed out; this one stays.
 */
export interface ChangePassword {
  t: "change_password";
  id: number;
  old_password: string;
  new_password: string;
}
export interface ClaimKeys {
  t: "claim_keys";
  id: number;
  /**
   * @minItems 1
   * @maxItems 1000
   */
  devices: DeviceRef[];
}
export interface DeviceRef {
  user: number;
  device: string;
}
export interface CreateBackup {
  t: "create_backup";
  id: number;
  auth: string;
}
export interface CreateGroup {
  t: "create_group";
  id: number;
  name: string;
  /**
   * @maxItems 1000
   */
  members?: (number | string)[];
  history_visibility?: "joined" | "shared";
  encrypted?: boolean;
}
/**
 * An invite link to a group (owner and admins). Reply `invite`.
 */
export interface CreateInvite {
  t: "create_invite";
  id: number;
  room: number;
  expires_in?: number;
  max_uses?: number;
}
/**
 * Delete message `seq` for everyone (yours; in groups admins and the owner may delete any).
 */
export interface Delete {
  t: "delete";
  id: number;
  room: number;
  seq: number;
}
export interface DeleteAccount {
  t: "delete_account";
  id: number;
  password: string;
}
/**
 * Replace the body of your own message `seq`. Reply `ok`; everyone gets a `message_edited` event.
 */
export interface Edit {
  t: "edit";
  id: number;
  room: number;
  seq: number;
  body: string;
}
export interface GetBackup {
  t: "get_backup";
  id: number;
}
export interface GetBackupKeys {
  t: "get_backup_keys";
  id: number;
  version: number;
  after?: BackupPosition;
}
export interface BackupPosition {
  room: number;
  session_id: string;
}
/**
 * Whether these users are online, or when they were last seen. Reply `presence`.
 */
export interface GetPresence {
  t: "get_presence";
  id: number;
  /**
   * @minItems 1
   * @maxItems 100
   */
  users: number[];
}
/**
 * A user's profile as you may see it (your own when `user` is left out). Reply `profile`.
 */
export interface GetProfile {
  t: "get_profile";
  id: number;
  user?: number | string;
}
/**
 * Where the room's receipts stand now, for a device that was not there when they were pushed.
 */
export interface GetReceipts {
  t: "get_receipts";
  id: number;
  room: number;
}
/**
 * The room's settings and current members with their roles (members and past members only).
 */
export interface GetRoom {
  t: "get_room";
  id: number;
  room: number;
}
export interface Hello {
  t: "hello";
  id: number;
  version: number;
  token: string;
  cursors?: {
    [k: string]: number;
  };
}
/**
 * Request a page of the `limit` messages just before `before_seq` (latest if omitted).
 */
export interface History {
  t: "history";
  id: number;
  room: number;
  before_seq?: number;
  limit?: number;
}
/**
 * Join a group through an invite link's code. Reply `ok` after commit (then `get_room`).
 */
export interface Join {
  t: "join";
  id: number;
  code: string;
}
export interface Leave {
  t: "leave";
  id: number;
  room: number;
}
export interface ListDevices {
  t: "list_devices";
  id: number;
}
export interface ListInviteJoins {
  t: "list_invite_joins";
  id: number;
  room: number;
}
export interface ListInvites {
  t: "list_invites";
  id: number;
  room: number;
}
export interface ListRooms {
  t: "list_rooms";
  id: number;
}
export interface Login {
  t: "login";
  id: number;
  username: string;
  password: string;
  device?: string;
}
export interface Logout {
  t: "logout";
  id: number;
  refresh_token: string;
}
/**
 * Sign devices out: `device` (one, possibly this one) or `others: true` (every device but this one).
 */
export interface LogoutDevices {
  t: "logout_devices";
  id: number;
  device?: string;
  others?: boolean;
}
/**
 * Mute a room (no push notifications; counts still kept) or unmute it. Reply `ok`.
 */
export interface Mute {
  t: "mute";
  id: number;
  room: number;
  muted?: boolean;
}
export interface OpenDirect {
  t: "open_direct";
  id: number;
  user: number | string;
  encrypted?: boolean;
}
/**
 * Is this connection alive? Answered with `ok` at once (a client's heartbeat). Needs a hello first.
 */
export interface Ping {
  t: "ping";
  id: number;
}
/**
 * What an invite link leads to, before joining. Reply `invite_preview`, or the error a join would get
 * (not_found, invite_expired, invite_revoked, invite_used_up). Counts against the join rate limit.
 */
export interface PreviewInvite {
  t: "preview_invite";
  id: number;
  code: string;
}
export interface PutBackupKeys {
  t: "put_backup_keys";
  id: number;
  version: number;
  /**
   * @minItems 1
   * @maxItems 1000
   */
  keys: BackupKey[];
}
export interface BackupKey {
  room: number;
  session_id: string;
  data: string;
}
/**
 * Approve (sign the new device in to this account, as a device of its own) or decline.
 */
export interface QrLoginAnswer {
  t: "qr_login_answer";
  id: number;
  code: string;
  approve: boolean;
}
/**
 * Who asks to sign in with this code: answered by `qr_login_request`.
 */
export interface QrLoginPreview {
  t: "qr_login_preview";
  id: number;
  code: string;
}
export interface QueryKeys {
  t: "query_keys";
  id: number;
  /**
   * @minItems 1
   * @maxItems 1000
   */
  users: number[];
}
/**
 * Put `emoji` on message `target`. Reply `ok` (also when you had already); everyone gets a
 * `reaction_added` event.
 */
export interface React {
  t: "react";
  id: number;
  room: number;
  target: number;
  emoji: string;
}
/**
 * Cumulative read marker (never moves backwards). No reply.
 */
export interface Read {
  t: "read";
  room: number;
  seq: number;
}
export interface Refresh {
  t: "refresh";
  id: number;
  refresh_token: string;
}
/**
 * Kick: remove a member. A kicked user may rejoin through any live invite link of the room (a ban
 * stops that); `revoke_invites` revokes all of them in the same transaction as the removal.
 */
export interface RemoveMember {
  t: "remove_member";
  id: number;
  room: number;
  user: number | string;
  revoke_invites?: boolean;
}
/**
 * Revoke a link; with `remove_joined`, also remove everyone still in the room who joined through it.
 */
export interface RevokeInvite {
  t: "revoke_invite";
  id: number;
  room: number;
  code: string;
  remove_joined?: boolean;
}
/**
 * Users whose username starts with `query` (ignoring case), in username order. Reply `users`.
 */
export interface SearchUsers {
  t: "search_users";
  id: number;
  query: string;
  limit?: number;
}
export interface Send {
  t: "send";
  id: number;
  room: number;
  client_id: string;
  body?: string;
  kind?: "audio" | "encrypted" | "file" | "image" | "text" | "video";
  media?: MediaRef;
  reply_to?: number;
  encrypted?: Encrypted;
  members_seq?: number;
}
/**
 * What a `send` says of the media item it carries: the id its upload returned, and what the server
 * cannot read from the bytes (a duration; a video's size). An image's size comes from the server.
 */
export interface MediaRef {
  id: string;
  duration_ms?: number;
  width?: number;
  height?: number;
}
/**
 * A Megolm ciphertext and what a member's device needs to find its key (docs/e2ee.md §3).
 */
export interface Encrypted {
  algorithm: "megolm.v1";
  ciphertext: string;
  session_id: string;
  sender_key: string;
  device: string;
}
/**
 * Stored before `ok`; `txn` makes a retry store nothing twice.
 */
export interface SendToDevice {
  t: "send_to_device";
  id: number;
  txn: string;
  /**
   * @minItems 1
   * @maxItems 1000
   */
  messages: ToDeviceOut[];
}
export interface ToDeviceOut {
  user: number;
  device: string;
  body: string;
}
/**
 * Promote a member to admin or demote an admin to member (the owner only).
 */
export interface SetRole {
  t: "set_role";
  id: number;
  room: number;
  user: number | string;
  role?: "admin" | "member";
}
/**
 * Your account settings; fields left out stay. Reply `ok`.
 */
export interface Settings {
  t: "settings";
  id: number;
  read_receipts?: boolean;
}
export interface Signup {
  t: "signup";
  id: number;
  username: string;
  email: string;
  password: string;
  device?: string;
  invite?: string;
}
/**
 * The owner makes another current member the owner and becomes an admin.
 */
export interface TransferOwnership {
  t: "transfer_ownership";
  id: number;
  room: number;
  user: number | string;
}
/**
 * I am typing in `room` (send again every few seconds while it lasts) or I stopped. No reply.
 */
export interface Typing {
  t: "typing";
  room: number;
  active?: boolean;
}
export interface Unban {
  t: "unban";
  id: number;
  room: number;
  user: number | string;
}
/**
 * Take your `emoji` off message `target`. Reply `ok` (also when you had none); everyone gets a
 * `reaction_removed` event.
 */
export interface Unreact {
  t: "unreact";
  id: number;
  room: number;
  target: number;
  emoji: string;
}
/**
 * Change your profile; fields left out stay, "" clears a text field. Reply `profile` (your own).
 */
export interface UpdateProfile {
  t: "update_profile";
  id: number;
  display_name?: string;
  about?: string;
  avatar?: string;
  visibility?: {
    [k: string]: "contacts" | "everyone" | "nobody";
  };
}
/**
 * Change a group's settings (owner and admins). Fields left out stay; "" clears description/icon.
 */
export interface UpdateRoom {
  t: "update_room";
  id: number;
  room: number;
  name?: string;
  description?: string;
  icon?: string;
  history_visibility?: "joined" | "shared";
  encrypted?: boolean;
}
export interface UploadKeys {
  t: "upload_keys";
  id: number;
  device_keys?: DeviceKeys;
  /**
   * @maxItems 100
   */
  one_time_keys?: OneTimeKey[];
  fallback_key?: OneTimeKey;
}
export interface DeviceKeys {
  identity_key: string;
  signing_key: string;
  signature: string;
}
export interface OneTimeKey {
  key_id: string;
  key: string;
  signature: string;
}
export interface AuthOk {
  t: "auth_ok";
  id: number;
  user_id: number;
  username: string;
  access_token: string;
  refresh_token: string;
  expires_in: number;
}
export interface Backup {
  t: "backup";
  id: number;
  version: number;
  auth: string;
}
export interface BackupKeys {
  t: "backup_keys";
  id: number;
  /**
   * @maxItems 1000
   */
  keys: StoredBackupKey[];
  more: boolean;
}
/**
 * A BackupKey as the server sends it back (its own name: the schema keeps what each side sends apart).
 */
export interface StoredBackupKey {
  room: number;
  session_id: string;
  data: string;
}
export interface ClaimedKeys {
  t: "claimed_keys";
  id: number;
  /**
   * @maxItems 1000
   */
  keys: ClaimedKey[];
}
export interface ClaimedKey {
  user: number;
  device: string;
  key_id: string;
  key: string;
  signature: string;
  fallback: boolean;
}
/**
 * Server push to every device of a user when a room's unread or mention count changes.
 */
export interface Counts {
  t: "counts";
  room: number;
  unread: number;
  mentions: number;
  muted: boolean;
}
export interface DeviceKeysList {
  t: "device_keys";
  id: number;
  /**
   * @maxItems 100000
   */
  devices: DeviceKeyInfo[];
}
export interface DeviceKeyInfo {
  user: number;
  device: string;
  identity_key: string;
  signing_key: string;
  signature: string;
  name?: string;
}
export interface Devices {
  t: "devices";
  id: number;
  /**
   * @maxItems 1000
   */
  devices: DeviceInfo[];
}
/**
 * One signed-in device: what signup or login called it (`device`), when, and when it was last seen.
 */
export interface DeviceInfo {
  device: string;
  created_ts: number;
  last_seen_ts: number;
  current: boolean;
  name?: string;
}
/**
 * Server push: a device of `user` published keys or was signed out (query_keys again, rotate).
 */
export interface DevicesChanged {
  t: "devices_changed";
  user: number;
}
export interface Error {
  t: "error";
  code: string;
  message: string;
  id?: number;
  retry_after?: number;
}
/**
 * Reply to `history`: messages in ascending seq order; `has_more` if older ones are visible.
 */
export interface HistoryPage {
  t: "history_page";
  id: number;
  room: number;
  /**
   * @maxItems 100
   */
  messages: Message[];
  has_more: boolean;
}
export interface Message {
  room: number;
  seq: number;
  ts: number;
  kind: "audio" | "encrypted" | "file" | "image" | "system" | "text" | "video";
  sender?: number;
  client_id?: string;
  body?: string;
  event?: {
    [k: string]: unknown;
  };
  edited_ts?: number;
  deleted: boolean;
  media?: Media;
  reply_to?: number;
  /**
   * @maxItems 20
   */
  reactions?: Reaction[];
  encrypted?: StoredEncrypted;
}
/**
 * A message's media item as everyone sees it; download it (and its thumbnail) from the HTTP side.
 */
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
/**
 * One emoji on a message and who put it there, in the order they reacted (protocol/reactions.py).
 */
export interface Reaction {
  emoji: string;
  /**
   * @minItems 1
   * @maxItems 100000
   */
  users: number[];
}
/**
 * An Encrypted as the server sends it back (its own name: the schema keeps what each side sends apart).
 */
export interface StoredEncrypted {
  algorithm: "megolm.v1";
  ciphertext: string;
  session_id: string;
  sender_key: string;
  device: string;
}
export interface Invite {
  t: "invite";
  id: number;
  invite: InviteInfo;
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
export interface InviteJoins {
  t: "invite_joins";
  id: number;
  /**
   * @maxItems 1000
   */
  joins: InviteJoinRecord[];
}
export interface InviteJoinRecord {
  code: string;
  user: number;
  username: string;
  seq: number;
  ts: number;
}
export interface InvitePreview {
  t: "invite_preview";
  id: number;
  room: number;
  members: number;
  member: boolean;
  name?: string;
  description?: string;
  icon?: string;
}
export interface Invites {
  t: "invites";
  id: number;
  /**
   * @maxItems 1000
   */
  invites: InviteInfo[];
}
export interface KeyCounts {
  t: "key_counts";
  id: number;
  one_time_keys: number;
  fallback: boolean;
}
export interface LoggedOut {
  t: "logged_out";
  id: number;
  /**
   * @maxItems 1000
   */
  devices: string[];
}
/**
 * Server push: one or more messages, in seq order per room. Ack each room's highest seq.
 */
export interface Msgs {
  t: "msgs";
  /**
   * @minItems 1
   * @maxItems 100
   */
  messages: Message[];
  backlog: boolean;
}
export interface Ok {
  t: "ok";
  id: number;
}
export interface Presence {
  t: "presence";
  id: number;
  /**
   * @maxItems 100
   */
  users: PresenceInfo[];
}
export interface PresenceInfo {
  user: number;
  online?: boolean;
  last_seen?: number;
}
/**
 * Server push to the online contacts allowed to see it: `user`'s first device came or last one went.
 */
export interface PresenceChanged {
  t: "presence_changed";
  user: number;
  online: boolean;
  last_seen?: number;
}
export interface Profile {
  t: "profile";
  id: number;
  profile: ProfileInfo;
}
/**
 * What the asker may see of a user. Hidden or unset fields are left out.
 */
export interface ProfileInfo {
  user: number;
  username: string;
  display_name?: string;
  about?: string;
  avatar?: string;
  online?: boolean;
  last_seen?: number;
  visibility?: {
    [k: string]: "contacts" | "everyone" | "nobody";
  };
}
export interface QrLoginRequest {
  t: "qr_login_request";
  id: number;
  code: string;
  address: string;
  expires_in: number;
  device?: string;
  user_agent?: string;
}
/**
 * Server push in big rooms: of the `others` current members, how many have / have read your messages.
 */
export interface ReceiptCounts {
  t: "receipt_counts";
  room: number;
  others: number;
  /**
   * @maxItems 100
   */
  counts: Count[];
}
export interface Count {
  seq: number;
  delivered: number;
  read?: number;
}
/**
 * Reply to `get_receipts`: what `status` (rooms of up to 100 members: `members`, everyone but you) or
 * `receipt_counts` (bigger rooms: `counts` for your latest messages) would say now.
 */
export interface RoomReceipts {
  t: "receipts";
  id: number;
  room: number;
  others: number;
  /**
   * @maxItems 100
   */
  members: MemberReceipt[];
  /**
   * @maxItems 100
   */
  counts: Count[];
}
export interface MemberReceipt {
  user: number;
  delivered_seq: number;
  read_seq?: number;
}
export interface Room {
  t: "room";
  id: number;
  room: RoomInfo;
}
export interface RoomInfo {
  room: number;
  /**
   * @maxItems 100000
   */
  members: Member[];
  kind: "direct" | "group";
  name?: string;
  history_visibility: "joined" | "shared";
  last_seq: number;
  description?: string;
  icon?: string;
  encrypted: boolean;
  members_seq: number;
}
export interface Member {
  user: number;
  username: string;
  role: "admin" | "member" | "owner";
}
export interface Rooms {
  t: "rooms";
  id: number;
  /**
   * @maxItems 100000
   */
  rooms: RoomSummary[];
}
export interface RoomSummary {
  room: number;
  kind: "direct" | "group";
  name?: string;
  last_seq: number;
  delivered_seq: number;
  read_seq: number;
  unread: number;
  mentions: number;
  muted: boolean;
  member: boolean;
  encrypted: boolean;
  peer?: number;
  last_message?: Message;
}
export interface Sent {
  t: "sent";
  id: number;
  room: number;
  seq: number;
  ts: number;
  client_id: string;
  duplicate: boolean;
}
/**
 * Server push: `user` has every message of `room` up to `delivered_seq` (and has read up to `read_seq`).
 */
export interface Status {
  t: "status";
  room: number;
  user: number;
  delivered_seq: number;
  read_seq?: number;
}
/**
 * Server push: this device's to-device messages in order; the next frame comes after the ack.
 */
export interface ToDevice {
  t: "to_device";
  /**
   * @minItems 1
   * @maxItems 100
   */
  messages: ToDeviceIn[];
}
export interface ToDeviceIn {
  id: number;
  sender: number;
  sender_device: string;
  body: string;
}
/**
 * Server push to the online members: `user` started or stopped typing in `room`.
 */
export interface TypingChanged {
  t: "typing_changed";
  room: number;
  user: number;
  active: boolean;
}
export interface Users {
  t: "users";
  id: number;
  /**
   * @maxItems 20
   */
  users: ProfileInfo[];
}
export interface Welcome {
  t: "welcome";
  id: number;
  version: number;
  user_id: number;
  username: string;
  max_frame_bytes: number;
  device?: string;
}

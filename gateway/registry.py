"""Which handler serves which client frame, and whether the frame needs a successful `hello` first.

The one table of the websocket API (docs/protocol.md section 2 lists the same). The connection looks a decoded
frame up here, has the session state machine refuse it if it needs a hello that has not happened, and calls
the handler with the connection's context and the request's reply handle (gateway/context.py). The handler
modules import only what is below them (context, checks, services), never this table, so there is no cycle.
"""

from __future__ import annotations

from chatd.gateway import devices, hello, invites, keys, messages, people, qr_login, rooms
from chatd.gateway.accounts import Accounts, account_request
from chatd.gateway.context import Route
from chatd.protocol import devices as d
from chatd.protocol import e2ee as e
from chatd.protocol import frames as f
from chatd.protocol import people as p
from chatd.protocol import qr

ROUTES: dict[type[f.Frame], Route] = {
    # accounts (also over HTTP: httpapi/app.py) and hello itself: allowed before and after hello
    f.Signup: Route(account_request(Accounts.signup), needs_hello=False),
    f.Login: Route(account_request(Accounts.login), needs_hello=False),
    f.Refresh: Route(account_request(Accounts.refresh), needs_hello=False),
    f.Logout: Route(account_request(Accounts.logout), needs_hello=False),
    f.Hello: Route(hello.hello, needs_hello=False),
    f.Auth: Route(hello.auth),
    f.Ping: Route(hello.ping),
    # rooms and membership
    f.OpenDirect: Route(rooms.open_direct),
    f.CreateGroup: Route(rooms.create_group),
    f.GetRoom: Route(rooms.get_room),
    f.ListRooms: Route(rooms.list_rooms),
    f.AddMembers: Route(rooms.add_members),
    f.RemoveMember: Route(rooms.remove_member),
    f.Leave: Route(rooms.leave),
    f.Ban: Route(rooms.ban),
    f.Unban: Route(rooms.unban),
    f.SetRole: Route(rooms.set_role),
    f.TransferOwnership: Route(rooms.transfer_ownership),
    f.UpdateRoom: Route(rooms.update_room),
    f.Mute: Route(rooms.mute),
    f.Settings: Route(rooms.settings),
    # messages
    f.Send: Route(messages.send),
    f.Edit: Route(messages.edit),
    f.Delete: Route(messages.delete),
    f.React: Route(messages.react),
    f.Unreact: Route(messages.react),
    f.GetReceipts: Route(messages.get_receipts),
    f.Ack: Route(messages.ack),
    f.Read: Route(messages.read),
    f.Typing: Route(messages.typing),
    f.History: Route(messages.history),
    # invite links
    f.CreateInvite: Route(invites.create_invite),
    f.ListInvites: Route(invites.list_invites),
    f.RevokeInvite: Route(invites.revoke_invite),
    f.ListInviteJoins: Route(invites.list_invite_joins),
    f.PreviewInvite: Route(invites.preview),
    f.Join: Route(invites.join),
    # people: profiles, search, presence
    p.UpdateProfile: Route(people.update_profile),
    p.GetProfile: Route(people.get_profile),
    p.SearchUsers: Route(people.search_users),
    p.GetPresence: Route(people.get_presence),
    # one's own devices and account
    d.ListDevices: Route(devices.list_devices),
    d.LogoutDevices: Route(devices.logout_devices),
    d.ChangePassword: Route(devices.change_password),
    d.DeleteAccount: Route(devices.delete_account),
    # end-to-end encryption: keys, to-device messages, key backup
    e.UploadKeys: Route(keys.upload_keys),
    e.QueryKeys: Route(keys.query_keys),
    e.ClaimKeys: Route(keys.claim_keys),
    e.SendToDevice: Route(keys.send_to_device),
    e.AckToDevice: Route(keys.ack_to_device),
    e.CreateBackup: Route(keys.create_backup),
    e.GetBackup: Route(keys.get_backup),
    e.PutBackupKeys: Route(keys.put_backup_keys),
    e.GetBackupKeys: Route(keys.get_backup_keys),
    # approving a QR login of a new device
    qr.QrLoginPreview: Route(qr_login.preview),
    qr.QrLoginAnswer: Route(qr_login.answer),
}

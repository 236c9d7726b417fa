"""The envelopes this engine makes are what a libolm client (the web app's @towns-protocol/olm) reads, and
the other way round: Olm pre-key and normal messages, the plaintext fields, Megolm room keys and messages
(docs/e2ee.md §1-§3). Runs when the web app's node_modules hold the package (or CHAT_TEST_OLM_MODULE names
its olm.node.mjs); skipped otherwise."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import msgspec
import pytest

from chatd.clients.sdk.crypto import CryptoMachine, open_store

ROOT = Path(__file__).resolve().parents[2]
MODULE = Path(os.environ.get("CHAT_TEST_OLM_MODULE")
              or ROOT / "web" / "node_modules" / "@towns-protocol" / "olm" / "olm.node.mjs")
pytestmark = pytest.mark.skipif(not MODULE.is_file() or shutil.which("node") is None,
                                reason="needs node and @towns-protocol/olm (cd web && npm ci)")
ANN, WEB = 1, 7
ANN_DEVICE, WEB_DEVICE = "0b6f3a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"  # UUIDs
ROOM = 30


def libolm(step: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(["node", str(Path(__file__).with_name("libolm_peer.mjs"))], input=json.dumps(step),
                          capture_output=True, text=True, timeout=60, env={**os.environ, "OLM_MODULE": str(MODULE)})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_a_libolm_device_and_this_engine_exchange_keys_and_room_messages() -> None:
    web = {"user": WEB, "device": WEB_DEVICE}
    published = libolm({"step": "publish", **web})
    ann = CryptoMachine(ANN, ANN_DEVICE, open_store(None, ANN, ANN_DEVICE, "pw"))
    assert ann.update_devices(WEB, [published["device"]]).added == [(WEB, WEB_DEVICE)]  # its signature checks
    assert ann.add_claimed([published["claimed"]]) == [(WEB, WEB_DEVICE)]  # and its one-time key's
    encrypted, [share] = ann.room_encrypt(ROOM, [ANN, WEB], {"kind": "text", "body": "hello from python"})
    assert json.loads(share.body)["type"] == 0

    seen = libolm({"step": "receive_and_reply", "account": published["account"], "body": share.body,
                   "encrypted": msgspec.to_builtins(encrypted),
                   "me": web, "room": ROOM})
    assert seen["olm_plaintext"]["type"] == "room_key"
    assert (seen["olm_plaintext"]["recipient"], seen["olm_plaintext"]["recipient_device"]) == (WEB, WEB_DEVICE)
    assert seen["room_plaintext"] == {"kind": "text", "body": "hello from python", "room": ROOM}

    assert json.loads(seen["reply_body"])["type"] == 1  # libolm answers on the session it received
    plain = ann.decrypt_to_device(WEB, WEB_DEVICE, seen["reply_body"])
    assert plain is not None and plain["type"] == "room_key"
    found = ann.room_decrypt(ROOM, seen["encrypted"], sender=WEB)
    assert found is not None and found.content["body"] == "hello from the browser"
    assert (found.user, found.device) == (WEB, WEB_DEVICE)

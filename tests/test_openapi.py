"""The OpenAPI document (httpapi/openapi.py) against the server it describes.

- Every route the server has under /api/ (and /healthz, /metrics) is in the document, and every path and
  method of the document is a route: a new route without a description, or a removed one, fails here.
- docs/openapi.json is the document as built (rewrite it with
  `.venv/bin/python -m chatd.httpapi.openapi > docs/openapi.json`), and the server serves the same.
- A property-based run (schemathesis): for each operation, requests generated from the document (valid ones and
  invalid ones) go to a real server, as a signed-up admin; every answer must be documented (status, content
  type, headers, body schema), and none may be a 5xx. Then the same along the document's links (upload ->
  download, signup -> refresh -> logout, QR start -> wait, subscribe -> unsubscribe), where requests are made
  of earlier answers and so get past the "no such thing" refusals.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from starlette.routing import BaseRoute, Mount, Route

from chatd.console.grant import grant_admin
from chatd.httpapi import openapi
from chatd.node import Node
from tests.admin_support import NodeThread
from tests.conftest import PASSWORD, Backing, make_config

DOCS_COPY = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"
# generated requests per operation, chains along the links: the whole run stays well under a minute on two
# cores. CHAT_OPENAPI_EXAMPLES=200 (say) makes a deeper run by hand.
EXAMPLES = int(os.environ.get("CHAT_OPENAPI_EXAMPLES", "12"))
LEFT_OUT = "admin_drain"  # drains the node and stops it: every request after it would fail (test_admin_drain.py)


def described(path: str) -> bool:
    """The routes the document covers: the API and the operators' probes, not the web client's pages."""
    return path.startswith("/api/") or path in ("/healthz", "/metrics")


def routes_of(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route, mounts flattened, `{key:int}` written `{key}` as OpenAPI does."""
    for route in routes:
        if isinstance(route, Mount):
            yield from routes_of(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            path = re.sub(r"{(\w+):\w+}", r"{\1}", prefix + route.path)
            for method in route.methods or ():
                yield method.lower(), path


def test_docs_copy_is_the_built_document() -> None:
    assert json.loads(DOCS_COPY.read_text()) == openapi.document(), (
        "docs/openapi.json is stale: run `.venv/bin/python -m chatd.httpapi.openapi > docs/openapi.json`")


async def test_every_route_is_described_and_every_description_is_a_route(node: Node) -> None:
    assert node.http is not None
    served = {(method, path) for method, path in routes_of(node.http.app.routes) if described(path)}
    doc = openapi.document()
    documented = {(method, path) for path, item in doc["paths"].items() for method in item}
    # Starlette answers HEAD on every GET route; the document names HEAD only where it is meant to be used
    assert served - {(m, p) for m, p in served if m == "head"} == documented - {(m, p) for m, p in documented
                                                                                if m == "head"}
    assert {(m, p) for m, p in documented if m == "head"} <= served
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        answer = await http.get(openapi.PATH)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    assert answer.json() == doc


# --------------------------------------------------------------------------- the property-based run

@dataclass(frozen=True)
class Api:
    base_url: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def api(backing: Backing, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A real node in a thread of its own (schemathesis is synchronous), and an admin's access token.

    QR waits are cut to a second and the per-address limits lifted, so generated requests reach the handlers
    (a 429 would conform too, but would test nothing past the limit)."""
    config = make_config(backing, tmp_path_factory.mktemp("openapi"), qr_wait_seconds=1.0,
                         qr_logins_per_hour=1_000_000, qr_polls_per_minute=1_000_000, qr_waits_per_address=1000)
    with NodeThread(config) as (_, node):
        name = f"oa_{uuid.uuid4().hex[:8]}"
        signed = httpx.post(f"{node.http_url.rstrip('/')}/api/signup",
                            json={"username": name, "email": f"{name}@example.com", "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        assert grant_admin(backing.database_url, name)
        yield Api(node.http_url.rstrip("/"), signed.json()["access_token"])


schema = schemathesis.openapi.from_dict(openapi.document()).exclude(operation_id=LEFT_OUT)
BOUNDED = settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
CHECKS = [schemathesis.checks.not_a_server_error, schemathesis.checks.status_code_conformance,
          schemathesis.checks.content_type_conformance, schemathesis.checks.response_headers_conformance,
          schemathesis.checks.response_schema_conformance]


@schema.parametrize()
@settings(BOUNDED, max_examples=EXAMPLES)
def test_api_answers_as_described(case: schemathesis.Case, api: Api) -> None:
    case.call_and_validate(base_url=api.base_url, headers=api.headers, checks=CHECKS, timeout=30)


def test_api_workflows_answer_as_described(api: Api, tmp_path: Path) -> None:
    """Valid requests along the links, by schemathesis' own runner (its CLI) on the document as served.

    Which chain can go on depends on what the server already holds (a name an earlier chain took answers 409,
    so there is no token to refresh): hypothesis' state machine under pytest reports that as "inconsistent
    data generation", the runner's stateful engine expects it."""
    command = [sys.executable, "-m", "schemathesis.cli", "run", f"{api.base_url}{openapi.PATH}",
               "--phases", "stateful", "--mode", "positive", "--max-examples", str(EXAMPLES),
               "--checks", ",".join(check.__name__ for check in CHECKS), "--exclude-operation-id", LEFT_OUT,
               "--header", f"Authorization: Bearer {api.token}", "--request-timeout", "30", "--workers", "1",
               "--generation-deterministic", "--no-color"]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=180, check=False)
    assert run.returncode == 0, f"{run.stdout[-12000:]}\n{run.stderr[-3000:]}"

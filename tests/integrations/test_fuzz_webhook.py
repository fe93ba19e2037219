"""Property-based fuzzing of the webhook and the drain, through the real URL:
random headers, signatures and bodies (broken JSON, wrong types, huge
numbers, NUL, non-UTF-8, deep nesting, real payloads with fields removed or
retyped). Never a 5xx; nothing stored without a valid signature; every signed
delivery that is stored ends processed, ignored or failed with a reason, none
left waiting."""

from __future__ import annotations

import copy
import json
import os
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from apps.integrations.models import WebhookDelivery
from github_app.signatures import sign
from github_app.webhook_payloads import pull_request_payload, review_payload
from tests.integrations.conftest import SECRET, WEBHOOK_URL, installation_for, repository_for
from tests.payloads.installations import installation_event, ping_event

pytestmark = pytest.mark.django_db(transaction=False)

# 300 in every run; a longer hunt: TFORMANCE_FUZZ_EXAMPLES=10000 make test PYTEST_ARGS=...
EXAMPLES = int(os.environ.get("TFORMANCE_FUZZ_EXAMPLES", "300"))

REAL = {
    "pull_request": lambda: pull_request_payload("opened", pr_id=7, repository_id=100),
    "pull_request_review": lambda: review_payload(pr_id=7, review_id=70, repository_id=100),
    "installation": lambda: installation_event(action="created", installation_id=42),
    "ping": ping_event,
}

hostile_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.sampled_from([2**63, 2**63 - 1, -1, 0, 10**30]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["\x00", "a\x00b", "²", "١٢", "\ud7ff", "'; DROP TABLE x; --"]),
)
json_values = st.recursive(
    hostile_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = []
    if isinstance(value, dict):
        for key, child in value.items():
            found.append((*prefix, key))
            found.extend(_paths(child, (*prefix, key)))
    return found


@st.composite
def mutated_real_payload(draw: st.DrawFn) -> tuple[str, bytes]:
    event = draw(st.sampled_from(sorted(REAL)))
    payload = copy.deepcopy(REAL[event]())
    paths = _paths(payload)
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        path = draw(st.sampled_from(paths))
        block = payload
        try:
            for key in path[:-1]:
                block = block[key]
        except (KeyError, TypeError):
            continue
        if not isinstance(block, dict):
            continue
        if draw(st.booleans()):
            block.pop(path[-1], None)
        else:
            block[path[-1]] = draw(json_values)
    return event, json.dumps(payload).encode()


raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"{",
            b"\xff\xfe{}",
            b'{"a": NaN}',
            b'{"installation": {"id": 99999999999999999999999999}}',
            b'{"a": ' * 3000 + b"1" + b"}" * 3000,
            b'{"action": "opened\\u0000"}',
            b'{"a": "\\ud800"}',
            b"[]",
            b"null",
        ]
    ),
    json_values.map(lambda value: json.dumps(value).encode()),
)

header_text = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=40),
    st.sampled_from(["", "²", "\x00", "9" * 30, str(2**63), "-1", "12"]),
)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        event, body = draw(mutated_real_payload())
    else:
        event, body = draw(st.sampled_from(sorted(REAL))), draw(raw_bodies)
    signature = draw(
        st.sampled_from(["valid", "valid", "valid", "wrong-secret", "garbage", "missing", "sha1"])
    )
    headers = {"HTTP_X_GITHUB_EVENT": draw(st.one_of(st.just(event), header_text))}
    headers["HTTP_X_GITHUB_DELIVERY"] = draw(
        st.one_of(st.just(str(uuid.uuid4())), st.just(str(uuid.uuid4())), header_text)
    )
    if draw(st.booleans()):
        headers["HTTP_X_GITHUB_HOOK_ID"] = draw(header_text)
    if draw(st.booleans()):
        headers["HTTP_X_GITHUB_HOOK_INSTALLATION_TARGET_ID"] = draw(header_text)
    if signature == "valid":
        headers["HTTP_X_HUB_SIGNATURE_256"] = sign(body=body, secret=SECRET)
    elif signature == "wrong-secret":
        headers["HTTP_X_HUB_SIGNATURE_256"] = sign(body=body, secret="another-secret")
    elif signature == "garbage":
        headers["HTTP_X_HUB_SIGNATURE_256"] = draw(header_text)
    elif signature == "sha1":
        headers["HTTP_X_HUB_SIGNATURE"] = "sha1=" + "0" * 40
    return {"body": body, "headers": headers, "signed": signature == "valid"}


class Tally:
    requests = 0
    server_errors = 0
    wrong_states: list[str] = []


@pytest.fixture
def tracked(team):
    installation = installation_for(team=team, installation_id=42, login="acme")
    repository_for(installation=installation, github_id=100, full_name="acme/api")


def _fuzz(client, django_capture_on_commit_callbacks, tally: Tally) -> None:
    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        database=None,
    )
    @given(request=requests())
    def run(request: dict[str, Any]) -> None:
        before = WebhookDelivery.objects.count()
        with django_capture_on_commit_callbacks(execute=True):
            response = client.generic(
                "POST",
                WEBHOOK_URL,
                request["body"],
                content_type="application/json",
                **request["headers"],
            )
        tally.requests += 1
        note(f"answer {response.status_code}: {response.content[:200]!r}")
        if response.status_code >= 500:
            tally.server_errors += 1
        assert response.status_code < 500
        stored = WebhookDelivery.objects.count() - before
        if not request["signed"]:
            assert stored == 0
            assert response.status_code == 401
            return
        if response.status_code == 202:
            delivery = WebhookDelivery.objects.get(
                delivery_id=request["headers"]["HTTP_X_GITHUB_DELIVERY"].strip()
            )
            finished = delivery.status in {"processed", "ignored", "failed"}
            explained = delivery.status == "processed" or bool(
                delivery.status_reason or delivery.last_error
            )
            if not (finished and explained):
                tally.wrong_states.append(f"{delivery.status}: {delivery.payload[:120]}")
        else:
            assert stored == 0

    run()


def test_it_never_answers_5xx_nor_stores_an_unsigned_body_nor_leaves_one_waiting(
    client, django_capture_on_commit_callbacks, tracked, request
):
    tally = Tally()
    tally.wrong_states = []
    _fuzz(client, django_capture_on_commit_callbacks, tally)
    print(
        f"\nFUZZ: {tally.requests} requests, {tally.server_errors} 5xx, "
        f"{len(tally.wrong_states)} signed deliveries left in a wrong state"
    )
    assert tally.server_errors == 0
    assert tally.wrong_states == [], tally.wrong_states[:5]

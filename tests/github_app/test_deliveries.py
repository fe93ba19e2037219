import pytest

from github_app.deliveries import (
    DeliveryColumns,
    DeliveryHeaderError,
    delivery_columns,
    parse_delivery_headers,
)
from github_app.values import github_id, id_from_text

HEADERS = {
    "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    "X-GitHub-Event": "pull_request",
    "X-GitHub-Hook-ID": "292430182",
    "X-GitHub-Hook-Installation-Target-Type": "integration",
    "X-GitHub-Hook-Installation-Target-ID": "79929171",
}


def test_it_parses_every_header():
    parsed = parse_delivery_headers(HEADERS)
    assert parsed.delivery_id == "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    assert parsed.event == "pull_request"
    assert parsed.hook_id == 292430182
    assert parsed.target_type == "integration"
    assert parsed.target_id == 79929171


def test_it_tolerates_missing_optional_headers():
    parsed = parse_delivery_headers({"X-GitHub-Delivery": "d1", "X-GitHub-Event": "ping"})
    assert parsed.hook_id is None and parsed.target_type is None and parsed.target_id is None


@pytest.mark.parametrize(
    ("header", "value", "reason"),
    [
        ("X-GitHub-Hook-ID", "abc", "X-GitHub-Hook-ID header is not a number"),
        # str.isdigit accepts these; int refuses the first and reads the second as 12.
        ("X-GitHub-Hook-ID", "²", "X-GitHub-Hook-ID header is not a number"),
        ("X-GitHub-Hook-ID", "١٢", "X-GitHub-Hook-ID header is not a number"),
        ("X-GitHub-Hook-ID", "-1", "X-GitHub-Hook-ID header is not a number"),
        ("X-GitHub-Hook-ID", str(2**63), "X-GitHub-Hook-ID header is out of range"),
        ("X-GitHub-Hook-ID", "9" * 400, "X-GitHub-Hook-ID header is out of range"),
        ("X-GitHub-Hook-ID", "0", "X-GitHub-Hook-ID header is out of range"),
        (
            "X-GitHub-Hook-Installation-Target-ID",
            "1²",
            "X-GitHub-Hook-Installation-Target-ID header is not a number",
        ),
        ("X-GitHub-Delivery", "d\x00", "X-GitHub-Delivery header holds a control character"),
        ("X-GitHub-Event", "pull_request\x00", "X-GitHub-Event header holds a control character"),
        (
            "X-GitHub-Hook-Installation-Target-Type",
            "integration\x00",
            "X-GitHub-Hook-Installation-Target-Type header holds a control character",
        ),
    ],
)
def test_it_refuses_a_malformed_header_with_the_reason(header, value, reason):
    with pytest.raises(DeliveryHeaderError) as raised:
        parse_delivery_headers({**HEADERS, header: value})
    assert str(raised.value) == reason


def test_it_reads_the_largest_id_a_bigint_holds():
    assert parse_delivery_headers({**HEADERS, "X-GitHub-Hook-ID": str(2**63 - 1)}).hook_id == (
        2**63 - 1
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, 1),
        (2**63 - 1, 2**63 - 1),
        (2**63, None),
        (2**64 + 5, None),
        (0, None),
        (-3, None),
        (True, None),
        (1.0, None),
        ("12", None),
        (None, None),
        ([1], None),
    ],
)
def test_it_reads_a_github_id_from_a_payload_only_in_range(value, expected):
    assert github_id(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("12", 12), ("9223372036854775807", 2**63 - 1), ("9223372036854775808", None)]
    + [(bad, None) for bad in ["", "0", "-1", "²", "١٢", " 1", "1\x00", "0x10", "1e3"]],
)
def test_it_reads_an_id_from_text_in_ascii_digits_only(text, expected):
    assert id_from_text(text) == expected


def test_it_keeps_the_columns_of_a_well_formed_payload():
    columns = delivery_columns(
        {
            "action": "opened",
            "installation": {"id": 42},
            "repository": {"id": 100, "full_name": "acme/api"},
        }
    )
    assert columns == DeliveryColumns(
        action="opened",
        installation_id=42,
        repository_github_id=100,
        repository_full_name="acme/api",
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"action": "opened\x00", "installation": {"id": 2**63}, "repository": {"id": -1}},
        {"action": 7, "installation": {"id": "42"}, "repository": {"full_name": "a/b\x00"}},
        {"action": None, "installation": [42], "repository": "acme/api"},
        {"action": ["opened"], "installation": {"id": 2.5}, "repository": {"full_name": 3}},
    ],
)
def test_it_leaves_blank_the_columns_a_payload_holds_in_no_usable_form(payload):
    assert delivery_columns(payload) == DeliveryColumns(
        action="", installation_id=None, repository_github_id=None, repository_full_name=""
    )


def test_it_cuts_text_columns_to_their_length():
    columns = delivery_columns({"action": "a" * 500, "repository": {"full_name": "b" * 500}})
    assert (len(columns.action), len(columns.repository_full_name)) == (100, 200)


@pytest.mark.parametrize(
    ("missing", "message"),
    [("X-GitHub-Delivery", "X-GitHub-Delivery"), ("X-GitHub-Event", "X-GitHub-Event")],
)
def test_it_names_the_missing_required_header(missing, message):
    headers = {k: v for k, v in HEADERS.items() if k != missing}
    with pytest.raises(DeliveryHeaderError, match=message):
        parse_delivery_headers(headers)

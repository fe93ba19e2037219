import pytest

from github_app.deliveries import DeliveryHeaderError, parse_delivery_headers

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


def test_it_ignores_a_non_numeric_hook_id():
    headers = {**HEADERS, "X-GitHub-Hook-ID": "abc"}
    assert parse_delivery_headers(headers).hook_id is None


@pytest.mark.parametrize(
    ("missing", "message"),
    [("X-GitHub-Delivery", "X-GitHub-Delivery"), ("X-GitHub-Event", "X-GitHub-Event")],
)
def test_it_names_the_missing_required_header(missing, message):
    headers = {k: v for k, v in HEADERS.items() if k != missing}
    with pytest.raises(DeliveryHeaderError, match=message):
        parse_delivery_headers(headers)

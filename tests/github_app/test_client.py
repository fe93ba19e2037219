from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import httpx
import jwt
import pytest
import respx
from cryptography.fernet import Fernet

from github_app.client import (
    AppCredentials,
    app_client,
    installation_client,
    token_cache,
    user_client,
)
from github_app.errors import (
    Forbidden,
    NotConfigured,
    NotFound,
    RateLimited,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)
from tests.github_app.keys import key_body, private_key_pem, public_key_pem

API = "https://api.github.com"
INSTALLATION = 42
TOKEN_PATH = f"/app/installations/{INSTALLATION}/access_tokens"
REPOS_PATH = "/installation/repositories"


def _credentials() -> AppCredentials:
    return AppCredentials(
        app_id="12345",
        private_key=private_key_pem(),
        client_id="Iv1.abc",
        client_secret="client-secret-value",
    )


def _token_answer(token: str = "ghs_first", lifetime: timedelta = timedelta(hours=1)) -> dict:
    expires_at = (datetime.now(UTC) + lifetime).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"token": token, "expires_at": expires_at, "permissions": {"pull_requests": "read"}}


def _repos() -> httpx.Response:
    return httpx.Response(200, json={"total_count": 0, "repositories": []})


def _client(api_url: str = API):
    return installation_client(
        credentials=_credentials(), installation_id=INSTALLATION, api_url=api_url
    )


def _list_repos(api_url: str = API):
    # githubkit's namespaces hold their client weakly: keep it referenced.
    client = _client(api_url)
    return client.rest.apps.list_repos_accessible_to_installation()


@pytest.fixture
def github():
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router


def test_it_asks_for_an_installation_token_with_the_app_jwt(github):
    tokens = github.post(TOKEN_PATH).respond(201, json=_token_answer())
    repos = github.get(REPOS_PATH).mock(return_value=_repos())

    _list_repos()

    bearer = tokens.calls.last.request.headers["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(bearer, public_key_pem(private_key_pem()), algorithms=["RS256"])
    assert claims["iss"] == "12345"
    assert repos.calls.last.request.headers["Authorization"] == "token ghs_first"
    assert repos.calls.last.request.headers["User-Agent"] == "tformance"


def test_it_reuses_the_token_for_many_calls_and_clients(github):
    tokens = github.post(TOKEN_PATH).respond(201, json=_token_answer())
    repos = github.get(REPOS_PATH).mock(return_value=_repos())

    for _ in range(3):
        _list_repos()
    client = _client()
    client.rest.apps.list_repos_accessible_to_installation()
    client.rest.apps.list_repos_accessible_to_installation()

    assert tokens.call_count == 1
    assert repos.call_count == 5


def test_it_asks_for_a_new_token_when_the_old_one_is_about_to_expire(github):
    tokens = github.post(TOKEN_PATH)
    tokens.side_effect = [
        httpx.Response(201, json=_token_answer("ghs_first", timedelta(minutes=4))),
        httpx.Response(201, json=_token_answer("ghs_second", timedelta(hours=1))),
    ]
    repos = github.get(REPOS_PATH).mock(return_value=_repos())

    for _ in range(3):
        _list_repos()

    assert tokens.call_count == 2
    used = [call.request.headers["Authorization"] for call in repos.calls]
    assert used == ["token ghs_first", "token ghs_second", "token ghs_second"]


def test_it_keeps_one_token_per_installation(github):
    github.post(TOKEN_PATH).respond(201, json=_token_answer("ghs_42"))
    github.post("/app/installations/43/access_tokens").respond(201, json=_token_answer("ghs_43"))
    repos = github.get(REPOS_PATH).mock(return_value=_repos())

    _list_repos()
    other = installation_client(credentials=_credentials(), installation_id=43, api_url=API)
    other.rest.apps.list_repos_accessible_to_installation()

    assert [c.request.headers["Authorization"] for c in repos.calls] == [
        "token ghs_42",
        "token ghs_43",
    ]


def test_it_honours_the_api_url_of_an_enterprise_server():
    ghes = "https://ghe.example.com/api/v3"
    with respx.mock(base_url=ghes) as router:
        tokens = router.post(TOKEN_PATH).respond(201, json=_token_answer())
        repos = router.get(REPOS_PATH).mock(return_value=_repos())
        _list_repos(api_url=ghes)
    assert tokens.called
    assert urlparse(str(repos.calls.last.request.url)).path == "/api/v3/installation/repositories"


def test_it_authenticates_as_the_app_on_app_routes(github):
    app = github.get("/app").respond(200, json={"id": 12345, "slug": "tformance"})

    app_client(credentials=_credentials(), api_url=API).request("GET", "/app")

    header = app.calls.last.request.headers["Authorization"]
    assert header.startswith("Bearer ")
    assert jwt.decode(header[7:], public_key_pem(private_key_pem()), algorithms=["RS256"])


def test_it_sends_a_user_token_as_the_user(github):
    route = github.get("/user/installations").respond(
        200, json={"total_count": 0, "installations": []}
    )
    user_client(token="ghu_user", api_url=API).request("GET", "/user/installations")
    assert route.calls.last.request.headers["Authorization"] == "token ghu_user"


def test_it_retries_server_errors_then_succeeds(github, no_sleep):
    github.post(TOKEN_PATH).respond(201, json=_token_answer())
    repos = github.get(REPOS_PATH)
    repos.side_effect = [httpx.Response(502), httpx.Response(503), _repos()]

    response = _list_repos()

    assert response.status_code == 200
    assert repos.call_count == 3
    assert no_sleep == [1.0, 3.0]


def test_it_gives_up_on_a_lasting_server_error_with_a_clear_error(github, no_sleep):
    github.post(TOKEN_PATH).respond(201, json=_token_answer())
    repos = github.get(REPOS_PATH).respond(500, json={"message": "Server Error"})

    with pytest.raises(Unavailable) as caught:
        _list_repos()

    assert repos.call_count == 3
    assert str(caught.value) == "GitHub is failing (500: Server Error)"
    assert caught.value.status_code == 500


def test_it_turns_a_primary_rate_limit_into_rate_limited_without_sleeping(github, no_sleep):
    reset = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    github.post(TOKEN_PATH).respond(201, json=_token_answer())
    repos = github.get(REPOS_PATH).respond(
        403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(reset.timestamp()))},
        json={"message": "API rate limit exceeded for installation ID 42."},
    )

    with pytest.raises(RateLimited) as caught:
        _list_repos()

    assert caught.value.reset_at == reset
    assert repos.call_count == 1
    assert no_sleep == []
    assert "2030-01-01 12:00:00 UTC" in str(caught.value)


def test_it_turns_a_secondary_rate_limit_into_rate_limited(github, no_sleep):
    github.post(TOKEN_PATH).respond(201, json=_token_answer())
    github.get(REPOS_PATH).respond(
        429,
        headers={"retry-after": "30"},
        json={"message": "You have exceeded a secondary rate limit."},
    )

    before = datetime.now(UTC)
    with pytest.raises(RateLimited) as caught:
        _list_repos()
    after = datetime.now(UTC)

    assert before + timedelta(seconds=30) <= caught.value.reset_at <= after + timedelta(seconds=30)
    assert no_sleep == []


@pytest.mark.parametrize("status", [403, 429])
def test_it_waits_a_minute_on_a_secondary_limit_without_retry_after(github, no_sleep, status):
    # GitHub's docs: without retry-after, wait at least a minute. githubkit saw
    # a 403 without x-ratelimit-remaining at 0 as a refusal (Forbidden).
    github.post(TOKEN_PATH).respond(201, json=_token_answer())
    github.get(REPOS_PATH).respond(
        status,
        headers={"x-ratelimit-remaining": "4000"},
        json={"message": "You have exceeded a secondary rate limit."},
    )

    before = datetime.now(UTC)
    with pytest.raises(RateLimited) as caught:
        _list_repos()

    assert caught.value.secondary
    assert caught.value.reset_at >= before + timedelta(seconds=60)
    assert no_sleep == []


def test_it_retries_a_brand_new_token_refused_once(github, no_sleep):
    tokens = github.post(TOKEN_PATH).respond(201, json=_token_answer())
    repos = github.get(REPOS_PATH)
    repos.side_effect = [httpx.Response(401, json={"message": "Bad credentials"}), _repos()]

    response = _list_repos()

    assert response.status_code == 200
    assert tokens.call_count == 1
    assert no_sleep == [2.0]


def test_it_does_not_retry_a_refused_token_that_was_not_new(github, no_sleep):
    github.post(TOKEN_PATH).respond(201, json=_token_answer())
    repos = github.get(REPOS_PATH)
    repos.side_effect = [_repos(), httpx.Response(401, json={"message": "Bad credentials"})]
    _list_repos()

    with pytest.raises(Unauthorized, match=r"refused the app's credentials \(401: Bad credentials"):
        _list_repos()

    assert repos.call_count == 2
    assert no_sleep == []


def test_it_stops_after_one_retry_of_a_new_token(github, no_sleep):
    github.post(TOKEN_PATH).respond(201, json=_token_answer())
    repos = github.get(REPOS_PATH).respond(401, json={"message": "Bad credentials"})

    with pytest.raises(Unauthorized):
        _list_repos()

    assert repos.call_count == 2


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, Unauthorized), (403, Forbidden), (404, NotFound), (422, ValidationFailed)],
)
def test_it_explains_a_refused_token_request_without_secrets(github, status, error):
    github.post(TOKEN_PATH).respond(status, json={"message": "Integration not found"})

    with pytest.raises(error) as caught:
        _list_repos()

    text = str(caught.value)
    assert f"{status}: Integration not found" in text
    assert key_body(private_key_pem()) not in text
    assert "Bearer" not in text
    assert caught.value.__suppress_context__


def test_it_does_not_leak_the_token_when_the_api_refuses(github):
    github.post(TOKEN_PATH).respond(201, json=_token_answer("ghs_secret_token"))
    github.get(REPOS_PATH).respond(404, json={"message": "Not Found"})

    with pytest.raises(NotFound) as caught:
        _list_repos()

    assert "ghs_secret_token" not in str(caught.value)
    assert "ghs_secret_token" not in repr(caught.value)


def test_it_reports_an_unreachable_github(github):
    github.post(TOKEN_PATH).mock(side_effect=httpx.ConnectError("refused"))

    with pytest.raises(Unavailable, match="could not be reached"):
        _list_repos()


def test_it_keeps_secrets_out_of_the_credentials_repr():
    text = repr(_credentials())
    assert "12345" in text
    assert "PRIVATE" not in text
    assert "client-secret-value" not in text


@pytest.mark.redis
def test_it_shares_tokens_through_redis(redis_url):
    import redis

    cache = token_cache(redis_url=redis_url, cipher=Fernet(Fernet.generate_key()))
    with respx.mock(base_url=API) as router:
        tokens = router.post(TOKEN_PATH).respond(201, json=_token_answer("ghs_shared"))
        router.get(REPOS_PATH).mock(return_value=_repos())
        for _ in range(2):
            client = installation_client(
                credentials=_credentials(), installation_id=INSTALLATION, api_url=API, cache=cache
            )
            client.rest.apps.list_repos_accessible_to_installation()

    assert tokens.call_count == 1
    keys = redis.Redis.from_url(redis_url).keys("tformance:github:*installation:42*")
    assert len(keys) == 1
    assert 0 < redis.Redis.from_url(redis_url).ttl(keys[0]) <= 55 * 60
    # Tokens are secrets: Redis holds them encrypted.
    assert b"ghs_shared" not in redis.Redis.from_url(redis_url).get(keys[0])


def test_it_needs_a_cipher_for_a_redis_token_cache():
    with pytest.raises(NotConfigured, match="cipher"):
        token_cache(redis_url="redis://127.0.0.1:6379/11")

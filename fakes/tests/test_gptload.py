"""The fake GPT-Load answers as the real one's source does (the team's reference, §8.1)."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from fakes.gptload import FakeGPTLoad, serving

STANDARD = {
    "name": "openai",
    "channel_type": "openai",
    "test_model": "gpt-4o",
    "upstreams": [{"url": "https://api.openai.com", "weight": 1}],
}


def api(fake: FakeGPTLoad, method: str, path: str, body: Any = None, **headers: str):
    headers = {"Authorization": f"Bearer {fake.auth_key}"} | headers
    return httpx2.request(method, fake.url + path, json=body, headers=headers)


def test_success_has_an_int_code_and_a_zh_message_by_default(fake_gptload: FakeGPTLoad) -> None:
    zh = api(fake_gptload, "GET", "/api/channel-types").json()
    en = api(fake_gptload, "GET", "/api/channel-types", **{"Accept-Language": "en-US"}).json()

    assert zh["code"] == 0
    assert zh["message"] == "操作成功"
    assert en["message"] == "Success"
    assert set(zh["data"]) == {"openai", "openai-response", "anthropic", "gemini"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "bearer x"},  # the scheme is case-sensitive
        {"X-Api-Key": "wrong"},
    ],
)
def test_a_missing_or_wrong_key_is_401_with_a_string_code(
    fake_gptload: FakeGPTLoad, headers: dict[str, str]
) -> None:
    response = httpx2.get(fake_gptload.url + "/api/groups", headers=headers)

    assert response.status_code == 401
    assert response.json() == {"code": "UNAUTHORIZED", "message": "Authentication failed"}


def test_the_query_key_wins_over_a_right_header(fake_gptload: FakeGPTLoad) -> None:
    response = api(fake_gptload, "GET", "/api/groups?key=wrong")

    assert response.status_code == 401


def test_there_is_no_get_one_group_and_no_route_comes_before_auth(
    fake_gptload: FakeGPTLoad,
) -> None:
    response = httpx2.get(fake_gptload.url + "/api/groups/5")

    assert response.status_code == 404
    assert response.json() == {"error": "Not Found"}


def test_a_trailing_slash_redirects(fake_gptload: FakeGPTLoad) -> None:
    assert api(fake_gptload, "POST", "/api/groups/", STANDARD).status_code == 307
    assert api(fake_gptload, "GET", "/api/groups/").status_code == 301


def test_health_needs_no_key(fake_gptload: FakeGPTLoad) -> None:
    assert httpx2.get(fake_gptload.url + "/health").json()["status"] == "healthy"


def test_create_validates_in_the_sources_order(fake_gptload: FakeGPTLoad) -> None:
    def refusal(**changes: Any) -> tuple[int, str, str]:
        body = {k: v for k, v in (STANDARD | changes).items() if v is not None}
        response = api(fake_gptload, "POST", "/api/groups", body, **{"Accept-Language": "en"})
        return response.status_code, response.json()["code"], response.json()["message"]

    assert refusal(name="GPT.4", channel_type="nope")[2].startswith("Invalid group name")
    assert refusal(channel_type="nope")[2].startswith("Invalid channel type")
    assert refusal(test_model=None)[2] == "Test model is required"
    assert (
        refusal(upstreams=None)[2] == "Invalid upstreams configuration: upstreams field is required"
    )
    assert refusal(upstreams=[{"url": "https://x"}])[2].endswith(
        "at least one upstream must have a weight greater than 0"
    )
    assert refusal(validation_endpoint="https://x/v1")[2].startswith("Invalid test path")
    assert refusal(config={"nope": 1})[2] == "Invalid config format: unknown config field: 'nope'"
    assert refusal(model_redirect_rules={"a": " "}) == (
        400,
        "VALIDATION_FAILED",
        "validation.invalid_model_redirect",
    )
    assert refusal(model_redirect_strict="true")[1] == "INVALID_JSON"


def test_a_duplicate_name_is_409(fake_gptload: FakeGPTLoad) -> None:
    assert api(fake_gptload, "POST", "/api/groups", STANDARD).status_code == 200

    again = api(fake_gptload, "POST", "/api/groups", STANDARD)

    assert again.status_code == 409
    assert again.json() == {"code": "DUPLICATE_RESOURCE", "message": "Resource already exists"}


def test_an_aggregate_is_forced_to_its_shape_and_refuses_redirects(
    fake_gptload: FakeGPTLoad,
) -> None:
    made = api(
        fake_gptload,
        "POST",
        "/api/groups",
        {"name": "agg", "group_type": "aggregate", "channel_type": "openai", "sub_groups": [1]},
    ).json()["data"]
    refused = api(
        fake_gptload,
        "POST",
        "/api/groups",
        {
            "name": "agg2",
            "group_type": "aggregate",
            "channel_type": "openai",
            "model_redirect_rules": {"a": "b"},
        },
        **{"Accept-Language": "en"},
    )

    assert (made["test_model"], made["upstreams"], made["validation_endpoint"]) == ("-", [], "")
    assert fake_gptload.members[made["id"]] == {}  # sub_groups in the body is ignored
    assert refused.json()["message"] == "Aggregate groups do not support model redirect rules"


def make_groups(fake: FakeGPTLoad) -> tuple[int, int, int]:
    a = api(fake, "POST", "/api/groups", STANDARD | {"name": "a"}).json()["data"]["id"]
    b = api(fake, "POST", "/api/groups", STANDARD | {"name": "b"}).json()["data"]["id"]
    agg = api(
        fake,
        "POST",
        "/api/groups",
        {"name": "agg", "group_type": "aggregate", "channel_type": "openai"},
    ).json()["data"]["id"]
    return a, b, agg


def test_sub_groups_follow_their_rules(fake_gptload: FakeGPTLoad) -> None:
    a, b, agg = make_groups(fake_gptload)
    claude = api(
        fake_gptload,
        "POST",
        "/api/groups",
        STANDARD | {"name": "claude", "channel_type": "anthropic"},
    ).json()["data"]["id"]

    def add(*entries: tuple[int, int]) -> httpx2.Response:
        body = {"sub_groups": [{"group_id": g, "weight": w} for g, w in entries]}
        return api(
            fake_gptload, "POST", f"/api/groups/{agg}/sub-groups", body, **{"Accept-Language": "en"}
        )

    assert add((a, 1), (a, 1)).json()["message"] == "One or more sub-groups not found"
    assert add((claude, 1)).json()["message"] == "All sub-groups must use the same channel type"
    assert add((a, 1001)).json()["message"] == "Sub-group weight cannot exceed 1000"
    assert add((a, 1)).json()["code"] == 0
    repeated = add((a, 1))
    assert (repeated.status_code, repeated.json()["message"]) == (
        400,
        f"Sub group {a} already exists",
    )
    not_aggregate = api(
        fake_gptload,
        "POST",
        f"/api/groups/{a}/sub-groups",
        {"sub_groups": [{"group_id": b, "weight": 1}]},
    )
    assert (not_aggregate.status_code, not_aggregate.json()["code"]) == (400, "BAD_REQUEST")
    assert (
        api(
            fake_gptload, "PUT", f"/api/groups/{agg}/sub-groups/{b}/weight", {"weight": 2}
        ).status_code
        == 404
    )
    listed = api(fake_gptload, "GET", f"/api/groups/{agg}/sub-groups").json()["data"]
    assert [(m["group"]["id"], m["weight"]) for m in listed] == [(a, 1)]


def test_deleting_a_member_silently_empties_its_aggregate(fake_gptload: FakeGPTLoad) -> None:
    a, _, agg = make_groups(fake_gptload)
    api(
        fake_gptload,
        "POST",
        f"/api/groups/{agg}/sub-groups",
        {"sub_groups": [{"group_id": a, "weight": 1}]},
    )

    deleted = api(fake_gptload, "DELETE", f"/api/groups/{a}").json()

    assert "data" not in deleted
    assert fake_gptload.members[agg] == {}
    assert api(fake_gptload, "DELETE", f"/api/groups/{a}").status_code == 404


def test_a_member_refuses_a_channel_change(fake_gptload: FakeGPTLoad) -> None:
    a, _, agg = make_groups(fake_gptload)
    api(
        fake_gptload,
        "POST",
        f"/api/groups/{agg}/sub-groups",
        {"sub_groups": [{"group_id": a, "weight": 1}]},
    )

    response = api(fake_gptload, "PUT", f"/api/groups/{a}", {"channel_type": "anthropic"})

    assert (response.status_code, response.json()["code"]) == (400, "VALIDATION_FAILED")


def test_keys_dedupe_per_group_and_come_back_in_plaintext(fake_gptload: FakeGPTLoad) -> None:
    a, b, _ = make_groups(fake_gptload)

    first = api(
        fake_gptload, "POST", "/api/keys/add-multiple", {"group_id": a, "keys_text": "k1, k2;k1"}
    )
    second = api(
        fake_gptload, "POST", "/api/keys/add-multiple", {"group_id": a, "keys_text": '["k2", "k3"]'}
    )
    other = api(fake_gptload, "POST", "/api/keys/add-multiple", {"group_id": b, "keys_text": "k1"})
    missing = api(
        fake_gptload, "POST", "/api/keys/add-multiple", {"group_id": 0, "keys_text": "k1"}
    )

    assert first.json()["data"] == {"added_count": 2, "ignored_count": 0, "total_in_group": 2}
    assert second.json()["data"] == {"added_count": 1, "ignored_count": 1, "total_in_group": 3}
    assert other.json()["data"]["added_count"] == 1
    assert missing.json()["code"] == "INVALID_JSON"
    listed = api(fake_gptload, "GET", f"/api/keys?group_id={a}").json()["data"]["items"]
    assert [k["key_value"] for k in listed] == ["k1", "k2", "k3"]


def test_the_list_is_ordered_by_sort_then_newest(fake_gptload: FakeGPTLoad) -> None:
    a, b, agg = make_groups(fake_gptload)
    api(fake_gptload, "PUT", f"/api/groups/{agg}", {"sort": 5})

    listed = api(fake_gptload, "GET", "/api/groups").json()["data"]

    assert [g["id"] for g in listed] == [b, a, agg]
    assert listed[0]["endpoint"] == f"{fake_gptload.url}/proxy/b"


def test_v2_has_another_api() -> None:

    with serving(FakeGPTLoad(version="v2")) as fake:
        assert httpx2.get(fake.url + "/health").status_code == 404
        assert httpx2.get(fake.url + "/api/health").status_code == 200

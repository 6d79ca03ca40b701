"""Every API error speaks the language the client asked for, wholly (issue 12 item 4): the same bad
request answers the Chinese message with `Accept-Language: zh-hans` and the English one with `en`,
in the one error shape of API.md, and no body mixes Chinese and English.

The expected strings are written out by hand; an API identifier (a field name, a patent number) may
appear in a Chinese message, an English word may not."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.fintech.applications.helpers import (
    create_application,
    make_party,
    make_world,
    register_patent,
    submit,
)

pytestmark = pytest.mark.django_db

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")


def _texts(body: dict[str, Any]) -> list[str]:
    return [body["message"], *(m for messages in body.get("fields", {}).values() for m in messages)]


def assert_one_language(body: dict[str, Any], language: str, identifiers: tuple[str, ...] = ()) -> None:
    """No Chinese in an English body; no English word in a Chinese one, once the field names and
    the given identifiers (values the client sent, shown as they are) are taken out."""
    for text in _texts(body):
        if language == "en":
            assert not CJK.search(text), text
            continue
        for token in sorted((*body.get("fields", {}), *identifiers), key=len, reverse=True):
            text = text.replace(token, "")
        assert not ENGLISH_WORD.search(text), text
        assert CJK.search(text), text


def patent_body(sme: Any, filing_date: str = "2017-07-20") -> dict[str, Any]:
    """Invention 201710601862.3 (filed in 2017, by its number), granted 2019-03-01, the SME's alone."""
    return {
        "application_number": "201710601862.3",
        "title": "Optical fibre coupler",
        "patent_type": "invention",
        "filing_date": filing_date,
        "grant_date": "2019-03-01",
        "patentees": [{"name": sme.org.name, "uscc": sme.org.uscc}],
        "claims_count": 12,
    }


def ask(client: Any, language: str, method: str, path: str, body: Any = None, **extra: Any) -> Any:
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    if method == "get":
        return client.get(path)
    return client.post(path, body if body is not None else {}, format="json", **extra)


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) <= {"code", "message", "fields"}
    return body


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("zh-hans", "请按 YYYY-MM-DD 格式输入日期。"),
        ("en", "Enter a date as YYYY-MM-DD."),
    ],
)
def test_a_field_validation_error(language, message):
    # given a regulator asking for the trial balance of a day that does not exist
    regulator = make_party("regulator")

    # when it asks in each language
    body = error(
        ask(regulator.client, language, "get", "/api/v1/reports/trial-balance/?as_of=2025-13-01"), 400
    )

    # then the field's message is in that language
    assert body == {"code": "invalid", "message": message, "fields": {"as_of": [message]}}
    assert_one_language(body, language, identifiers=("YYYY-MM-DD",))


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("zh-hans", "申请号表明申请年份为 2017，而不是 2018。"),  # noqa: RUF001
        ("en", "The application number says filing year 2017, not 2018."),
    ],
)
def test_a_service_rule_with_values_in_the_message(language, message):
    # given an SME whose patent number says 2017 but whose filing date says 2018
    sme = make_party("sme")
    body_sent = patent_body(sme, filing_date="2018-07-20")

    # when it registers the patent
    body = error(ask(sme.client, language, "post", "/api/v1/patents/", body_sent), 400)

    # then the rule's message carries both years, in the language asked for
    assert body == {"code": "invalid", "message": message, "fields": {"filing_date": [message]}}
    assert_one_language(body, language)


@pytest.mark.parametrize(
    ("language", "message", "field"),
    [
        ("zh-hans", "专利 201710601862.3 已登记。", "已注册。"),
        ("en", "Patent 201710601862.3 is already registered.", "Already registered."),
    ],
)
def test_a_conflict(language, message, field):
    # given an SME's registered patent
    sme = make_party("sme")
    assert ask(sme.client, "en", "post", "/api/v1/patents/", patent_body(sme)).status_code == 201

    # when it registers the same number again
    body = error(ask(sme.client, language, "post", "/api/v1/patents/", patent_body(sme)), 409)

    # then 409 in the language asked for
    assert body == {
        "code": "already_registered",
        "message": message,
        "fields": {"application_number": [field]},
    }
    assert_one_language(body, language)


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("zh-hans", "无法提交：该记录的状态为“评估中”。"),  # noqa: RUF001
        ("en", "Cannot submit: the record is 'Valuation'."),
    ],
)
def test_a_state_conflict_names_the_action_and_the_state_in_the_language_asked_for(language, message):
    # given a submitted application (now in valuation)
    world = make_world()
    patent = register_patent(world.sme)
    app = create_application(world, [patent["id"]])
    submit(world, app["id"])

    # when the SME submits it again
    response = ask(world.sme.client, language, "post", f"/api/v1/applications/{app['id']}/submit/")

    # then 409 naming the action and the state's label, not the code "valuation"
    body = error(response, 409)
    assert body == {"code": "invalid_state", "message": message}
    assert_one_language(body, language)


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("zh-hans", "只有中小企业可以登记其专利。"),
        ("en", "Only an SME registers its patents."),
    ],
)
def test_a_role_that_may_not(language, message):
    # given a bank
    bank = make_party("bank")

    # when it tries to register a patent
    body = error(ask(bank.client, language, "post", "/api/v1/patents/", patent_body(bank)), 403)

    # then 403 in the language asked for
    assert body == {"code": "permission_denied", "message": message}
    assert_one_language(body, language)


@pytest.mark.parametrize(
    ("language", "message"),
    [("zh-hans", "未找到。"), ("en", "Not found.")],
)
def test_not_found(language, message):
    # given an SME and an application id that is nobody's
    sme = make_party("sme")

    # when it asks for it
    body = error(ask(sme.client, language, "get", "/api/v1/applications/987654/"), 404)

    # then 404 in the language asked for
    assert body == {"code": "not_found", "message": message}
    assert_one_language(body, language)


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("zh-hans", "JSON 解析错误：第 1 行第 2 列处应为带双引号的属性名。"),  # noqa: RUF001
        ("en", "JSON parse error - a property name in double quotes is expected at line 1, column 2."),
    ],
)
def test_a_body_that_is_not_json(language, message):
    # given a body cut short
    sme = make_party("sme")
    sme.client.defaults["HTTP_ACCEPT_LANGUAGE"] = language

    # when it is posted as JSON
    response = sme.client.generic("POST", "/api/v1/patents/", b"{", content_type="application/json")

    # then 400 parse_error, the reason said in the language asked for (not json's English)
    body = error(response, 400)
    assert body == {"code": "parse_error", "message": message}
    assert_one_language(body, language, identifiers=("JSON",))


def test_no_accept_language_is_chinese():
    # given a client that names no language
    bank = make_party("bank")
    del bank.client.defaults["HTTP_ACCEPT_LANGUAGE"]

    # when it is refused, then the platform's language answers
    response = bank.client.post("/api/v1/patents/", patent_body(bank), format="json")
    assert json.loads(response.content)["message"] == "只有中小企业可以登记其专利。"

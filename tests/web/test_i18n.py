"""API texts in pt-BR and English: the organization's locale, Accept-Language over it."""
import json
import re
import subprocess
import sys

import pytest

from storage import i18n
from storage.i18n import messages, texts
from storage.recommendations import ACTION_MAPPINGS
from tests import factories
from tests.support import ROOT
from web import errors as web_errors


def set_locale(client, org, locale):
    resp = client.simulate_patch("/api/v1/organization", json={"locale": locale}, headers=org.headers)
    assert resp.status_code == 200, resp.text
    return resp.json


def test_an_organization_starts_in_english_and_can_switch_to_portuguese(client, org):
    assert client.simulate_get("/api/v1/organization", headers=org.headers).json["locale"] == "en"
    assert set_locale(client, org, "pt-BR")["locale"] == "pt-BR"
    assert set_locale(client, org, "pt_br")["locale"] == "pt-BR"
    assert client.simulate_get("/api/v1/organization", headers=org.headers).json["locale"] == "pt-BR"


@pytest.mark.parametrize("body", [{"locale": "fr"}, {"locale": 3}, {}, {"locale": "x" * 100}, {"id": "other"}])
def test_a_bad_locale_is_refused_with_a_clear_error(client, org, body):
    resp = client.simulate_patch("/api/v1/organization", json=body, headers=org.headers)
    assert resp.status_code == 422, resp.text
    assert resp.json["error"]["code"] in ("invalid_locale", "invalid_fields")


def test_errors_follow_the_organization_locale_and_accept_language_overrides_it(client, org):
    missing = "/api/v1/workflows/00000000-0000-0000-0000-000000000000"
    english = client.simulate_get(missing, headers=org.headers)
    assert english.json["error"]["message_human"] == "Workflow not found."
    assert english.headers["Content-Language"] == "en"

    set_locale(client, org, "pt-BR")
    portuguese = client.simulate_get(missing, headers=org.headers)
    assert portuguese.status_code == 404
    assert portuguese.json["error"] == {**english.json["error"], "message_human": "Fluxo não encontrado."}
    assert portuguese.headers["Content-Language"] == "pt-BR"

    overridden = client.simulate_get(missing, headers={**org.headers, "Accept-Language": "en-US,en;q=0.9"})
    assert overridden.json["error"]["message_human"] == "Workflow not found."
    assert overridden.headers["Content-Language"] == "en"


def test_accept_language_translates_for_an_english_organization_and_before_authentication(client, org):
    resp = client.simulate_get("/api/v1/workflows", headers={"Accept-Language": "pt-BR,pt;q=0.9"})
    assert resp.status_code == 401
    assert resp.json["error"]["code"] == "unauthorized"
    assert resp.json["error"]["message_human"] == "Envie seu token de API como 'Authorization: Bearer <token>'."
    unknown_language = client.simulate_get("/api/v1/workflows", headers={"Accept-Language": "de, *;q=0.5"})
    assert unknown_language.json["error"]["message_human"].startswith("Send your API token")


def test_messages_with_variable_parts_keep_them_in_portuguese(client, org):
    headers = {**org.headers, "Accept-Language": "pt-BR"}
    resp = client.simulate_post("/api/v1/workflows", json={"name": 5, "nodes": []}, headers=headers)
    assert resp.status_code == 422
    assert re.fullmatch(r"Campo inválido name: .+", resp.json["error"]["message_human"]), resp.json
    bad = client.simulate_post("/api/v1/workflows", body=b"{nope", headers={**headers, "Content-Type": "application/json"})
    assert bad.json["error"] == {"code": "malformed_json", "message_human": "O corpo não é um JSON válido.",
                                 "message_tech": bad.json["error"]["message_tech"]}


def test_recommended_actions_are_labelled_in_the_callers_language(client, org):
    template_id = factories.template(client, org)
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "local-docx", "label": "contract",
         "config": {"template_id": template_id, "output_name": "Contract {{trigger.nobody}}"}}])

    def preflight(language):
        resp = client.simulate_post(f"/api/v1/workflows/{wf['id']}/preflight", json={"trigger_data": {}},
                                    headers={**org.headers, "Accept-Language": language})
        assert resp.status_code == 200, resp.text
        return resp.json

    en, pt = preflight("en"), preflight("pt-BR")
    action_en = next(a for a in en["recommended_actions"] if a["params"]["issue_code"] == "unresolved_variables")
    action_pt = next(a for a in pt["recommended_actions"] if a["params"]["issue_code"] == "unresolved_variables")
    assert (action_en["action"], action_en["label"]) == ("map_fields", "Map fields")
    assert (action_pt["action"], action_pt["label"]) == ("map_fields", "Mapear campos")
    assert action_pt["description"] == "Algumas variáveis não puderam ser resolvidas."
    issue_en = next(i for i in en["issues"] if i["code"] == "unresolved_variables")
    issue_pt = next(i for i in pt["issues"] if i["code"] == "unresolved_variables")
    assert issue_en["message_human"].startswith("These variables have no value: ")
    assert issue_pt["message_human"].startswith("Estas variáveis não têm valor: ")
    assert "trigger.nobody" in issue_pt["message_human"]


def test_every_recommended_action_and_default_error_text_has_a_portuguese_text():
    assert set(ACTION_MAPPINGS) <= set(messages.ACTIONS)
    for cls in [web_errors.ApiError, *web_errors.ApiError.__subclasses__()]:
        assert i18n.error_text(cls.code, cls.message_human, "pt-BR") != cls.message_human, cls


def test_page_and_mail_texts_use_the_same_parts_in_both_languages():
    parts = re.compile(r"\{(\w+)\}")
    for key, entry in texts.TEXTS.items():
        assert set(entry) == {"en", "pt-BR"}, key
        assert set(parts.findall(entry["en"])) == set(parts.findall(entry["pt-BR"])), key
    for code, table in messages.ERRORS.items():
        for english, portuguese in table.items():
            assert set(parts.findall(english)) == set(parts.findall(portuguese)), (code, english)


@pytest.mark.parametrize("header, expected", [
    ("pt-BR,pt;q=0.9,en;q=0.8", "pt-BR"), ("en-GB,pt;q=0.5", "en"), ("fr, pt;q=0.1", "pt-BR"),
    ("pt;q=0.2, en;q=0.7", "en"), ("de", None), ("", None), ("pt;q=abc, en;q=0.1", "en"), ("*", None),
    ("en;q=0", None), ("x" * 2000, None)])
def test_accept_language_is_negotiated_by_weight(header, expected):
    assert i18n.negotiate(header) == expected


def test_docg_org_create_takes_a_locale(db):
    from storage.models import Organization

    done = subprocess.run([sys.executable, "-m", "cli", "org", "create", "Loja", "--locale", "pt-BR", "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout.strip().splitlines()[-1])
    assert Organization.get_by_id(created["organization_id"]).locale == "pt-BR"
    refused = subprocess.run([sys.executable, "-m", "cli", "org", "create", "X", "--locale", "fr"], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "--locale must be one of en, pt-BR" in refused.stderr


def test_a_path_outside_the_api_is_explained_in_portuguese_too(client):
    resp = client.simulate_post("/approvals/abc/decision", headers={"Accept-Language": "pt-BR"})
    assert resp.status_code == 404 and resp.json["error"]["code"] == "route_not_found"
    assert resp.json["error"]["message_human"] == ("POST /approvals/abc/decision não existe: a API fica em /api/v1. "
                                                   "Você quis dizer POST /api/v1/approvals/abc/decision?")


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_default_integration_and_storage_error_text_has_a_portuguese_text(app):
    import integrations.errors
    import storage.errors
    from integrations.base import load_apps

    load_apps()  # every provider's errors are loaded
    for cls in [*_subclasses(integrations.errors.IntegrationError), *_subclasses(storage.errors.StorageError),
                *_subclasses(web_errors.ApiError)]:
        if cls.code not in (
                "crypto.bad_key_config", "crypto.decrypt_failed", "crypto.unknown_key", "embedded.unavailable",
                "storage.error"):
            assert i18n.error_text(cls.code, cls.message_human, "pt-BR") != cls.message_human, cls


def test_a_template_error_keeps_the_template_name_in_portuguese():
    message = "Template “Contrato.docx”: The template loops more times than allowed."
    assert i18n.error_text("template.too_large", message, "pt-BR") == \
        "Modelo “Contrato.docx”: O modelo repete um laço mais vezes que o permitido."
    unknown = "Template “Contrato.docx”: something new."
    assert i18n.error_text("template.too_large", unknown, "pt-BR") == unknown

"""A run's log rows in pt-BR and English: by message key, Accept-Language over the organization's locale."""
import ast
import re

import pytest

from cli import sample
from storage import i18n
from storage.i18n import logs as catalogue
from storage.models import Execution, ExecutionLog
from tests import factories
from tests.support import ROOT

PARTS = re.compile(r"\{(\w+)\}")


def read_logs(client, org, execution_id, language=None):
    headers = {**org.headers, **({"Accept-Language": language} if language else {})}
    resp = client.simulate_get(f"/api/v1/executions/{execution_id}/logs", params={"limit": 100}, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp


def texts(resp):
    return [log["message_human"] for log in resp.json["logs"]]


def set_locale(client, org, locale):
    resp = client.simulate_patch("/api/v1/organization", json={"locale": locale}, headers=org.headers)
    assert resp.status_code == 200, resp.text


# --- the catalogue ---------------------------------------------------------------------------------------------

def test_every_log_key_has_english_and_portuguese_with_the_same_parts():
    for key, entry in catalogue.LOGS.items():
        assert set(entry) == set(i18n.LOCALES), key
        assert set(PARTS.findall(entry["en"])) == set(PARTS.findall(entry["pt-BR"])), key
        assert entry["en"] != entry["pt-BR"] or entry["en"] == "{error}", key
    for param, terms in catalogue.TERMS.items():
        for english, entry in terms.items():
            assert entry == {"en": english, "pt-BR": entry["pt-BR"]}, (param, english)


def _log_calls():
    """(file:line, message argument) of every logs.write / logs.entry call in the source tree.

    A message passed by name is the value assigned to that name in the same function.
    """
    for folder in ("storage", "actors", "web", "integrations", "cli", "telemetry"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for function in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                assigned = {target.id: node.value for node in ast.walk(function) if isinstance(node, ast.Assign)
                            for target in node.targets if isinstance(target, ast.Name)}
                for node in ast.walk(function):
                    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                            and node.func.attr in ("write", "entry") and isinstance(node.func.value, ast.Name)
                            and node.func.value.id == "logs"):
                        message = node.args[3]
                        if isinstance(message, ast.Name):
                            message = assigned.get(message.id, message)
                        yield f"{path.relative_to(ROOT)}:{node.lineno}", message


def _keys(message):
    """The catalogue keys a `logs.text(...)`/`logs.failure(...)` argument may name (None if it is not one)."""
    if isinstance(message, ast.IfExp):
        branches = (_keys(message.body), _keys(message.orelse))
        return None if None in branches else branches[0] | branches[1]
    if not (isinstance(message, ast.Call) and isinstance(message.func, ast.Attribute)
            and message.func.attr in ("text", "failure")):
        return None
    key = message.args[0]
    if isinstance(key, ast.Constant):
        return {key.value}
    if isinstance(key, ast.JoinedStr):  # f"payment.{outcome}": every key with that prefix
        prefix = key.values[0].value
        return {k for k in catalogue.LOGS if k.startswith(prefix)}
    return None


def _given(message):
    """The param names a `logs.text`/`logs.failure` call passes, per branch of a conditional."""
    if isinstance(message, ast.IfExp):
        return _given(message.body) + _given(message.orelse)
    names = {keyword.arg for keyword in message.keywords}
    return [names | {"error"} if message.func.attr == "failure" else names]


def test_every_log_call_site_writes_a_catalogued_key_with_its_parts():
    calls = list(_log_calls())
    assert len(calls) >= 15  # steps, waits, reviews, preflights, signatures, cancel, payments
    for where, message in calls:
        keys = _keys(message)
        assert keys, f"{where}: pass logs.text(key, ...) so the row can be read in every language"
        assert keys <= set(catalogue.LOGS), (where, keys - set(catalogue.LOGS))
        needed = [set(PARTS.findall(catalogue.LOGS[key]["en"])) for key in keys]
        assert all(any(parts <= given for given in _given(message)) for parts in needed), where


def test_parts_of_a_text_are_translated_by_their_own_catalogue():
    failed = {"label": "contract", "error": "Not found.", "error_code": "not_found"}
    assert i18n.log_text("step.failed", failed, "pt-BR", "x") == "A etapa “contract” falhou: Não encontrado."
    assert i18n.log_text("step.failed", failed, "en", "x") == "“contract” failed: Not found."
    done = {"label": "manager", "reason": "approved on timeout"}
    assert i18n.log_text("wait.done", done, "pt-BR", "x") == "Etapa “manager” concluída: aprovada por prazo esgotado."
    # a tenant's own words (a cancel reason, a label) stay as written
    assert i18n.log_text("run.canceled_because", {"given_reason": "approved"}, "pt-BR", "x") == \
        "Execução cancelada: approved."


@pytest.mark.parametrize("key, params", [(None, None), ("no.such.key", {}), ("step.started", {}),
                                         ("step.started", ["x"]), (7, None)])
def test_a_row_without_a_usable_key_is_served_as_stored(key, params):
    assert i18n.log_text(key, params, "pt-BR", "As stored.") == "As stored."


# --- a real run --------------------------------------------------------------------------------------------------

@pytest.fixture
def finished_run(client, org, worker):
    template_id = factories.template(client, org)
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"},
                                          factories.render_node(template_id, label="contract")])
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    assert factories.wait_for_status(client, org, execution_id)["status"] == "completed"
    return execution_id


@pytest.mark.e2e
def test_a_runs_logs_follow_accept_language_and_the_organizations_locale(client, org, finished_run):
    # Given a finished run of an English organization, read without a language
    stored = read_logs(client, org, finished_run)
    assert stored.headers["Content-Language"] == "en"
    assert {"Started “contract”.", "“contract” completed.", "Preflight found nothing to fix."} <= set(texts(stored))
    assert all(log["message_key"] in catalogue.LOGS for log in stored.json["logs"])
    completed = next(log for log in stored.json["logs"] if log["message_key"] == "step.completed"
                     and log["message_params"] == {"label": "contract"})
    assert completed["message_human"] == "“contract” completed."

    # When they are read with Accept-Language: pt-BR
    portuguese = read_logs(client, org, finished_run, "pt-BR,pt;q=0.9")
    # Then every row is in Portuguese, and nothing but the text changed
    assert portuguese.headers["Content-Language"] == "pt-BR"
    assert {"Etapa “contract” iniciada.", "Etapa “contract” concluída.",
            "A verificação prévia não encontrou nada a corrigir."} <= set(texts(portuguese))
    assert not set(texts(portuguese)) & set(texts(stored))
    assert [{**log, "message_human": None} for log in portuguese.json["logs"]] == \
        [{**log, "message_human": None} for log in stored.json["logs"]]

    # When the organization's locale is pt-BR, the same Portuguese comes without a header
    set_locale(client, org, "pt-BR")
    assert texts(read_logs(client, org, finished_run)) == texts(portuguese)
    # and Accept-Language: en overrides it with the stored English text
    english = read_logs(client, org, finished_run, "en-US")
    assert english.headers["Content-Language"] == "en"
    assert texts(english) == texts(stored)


@pytest.mark.e2e
def test_a_row_written_before_keys_existed_is_served_as_stored(client, org, finished_run):
    # Given a row as the previous release wrote it: English text, no key
    execution = Execution.get_by_id(finished_run)
    ExecutionLog.insert(execution=execution.id, organization_id=execution.organization_id, level="ok",
                        domain="step", message_human="An old line.").execute()
    # When the logs are read in Portuguese
    rows = read_logs(client, org, finished_run, "pt-BR").json["logs"]
    # Then that row comes back as stored, the others translated
    assert rows[-1]["message_human"] == "An old line." and rows[-1]["message_key"] is None
    assert "Etapa “contract” concluída." in [row["message_human"] for row in rows]


@pytest.mark.e2e
def test_a_preflight_issue_is_logged_in_the_readers_language(client, org, worker):
    # Given a run whose document names a value the trigger does not have
    template_id = factories.template(client, org)
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "local-docx", "label": "contract",
         "config": {"template_id": template_id, "output_name": "Contract {{trigger.nobody}}"}}])
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    assert factories.wait_for_status(client, org, execution_id, ("needs_review",))["status"] == "needs_review"
    # When its preflight log is read in both languages
    english = read_logs(client, org, execution_id, "en").json["logs"]
    portuguese = read_logs(client, org, execution_id, "pt-BR").json["logs"]
    # Then the issue's own text is translated through the error catalogue, its variable kept
    issue_en = next(log for log in english if log["message_key"] == "preflight.issue"
                    and log["message_params"]["error_code"] == "unresolved_variables")
    issue_pt = next(log for log in portuguese if log["id"] == issue_en["id"])
    assert issue_en["message_human"].startswith("These variables have no value: ")
    assert issue_pt["message_human"].startswith("Estas variáveis não têm valor: ")
    assert "trigger.nobody" in issue_pt["message_human"]

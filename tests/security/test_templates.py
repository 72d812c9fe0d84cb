"""Hostile templates through the real API and a real worker: data, never code.

Each attack asserts its outcome (a 422 at upload, a blocked preflight, or a
step failed at once with its `template.*` code and no document) and that no
server secret appears in any answer, document, step, log or worker log.
"""
import base64
import os
import time

import pytest

from storage import templates as template_rows
from tests import docx_kit, factories
from tests.support import start_worker, wait_until

pytestmark = pytest.mark.e2e
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PARTY = 'Johnson & Johnson <Legal> "Brasil"'
TIMEOUT_S = 2


@pytest.fixture(scope="module")
def worker(services, logs_dir):
    """A real worker with a short render deadline, so the endless loop test is quick."""
    process = start_worker(logs_dir, threads=2, env={"TEMPLATE_RENDER_TIMEOUT_S": str(TIMEOUT_S)})
    yield process
    process.stop()


def secrets():
    values = [os.environ[name] for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ADMIN_TOKEN",
                                            "CLICKSIGN_WEBHOOK_SECRET", "ZAPSIGN_WEBHOOK_SECRET")]
    return [v for v in values if v] + ["/usr/bin", "'__builtins__'", "<module '", "environ({"]


def assert_no_secret(*texts):
    for text in texts:
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        for secret in secrets():
            assert secret not in text, f"{secret!r} leaked"


def upload(client, org, content):
    body = {"name": "t.docx", "content_type": DOCX, "content": base64.b64encode(content).decode()}
    return client.simulate_post("/api/v1/templates", json=body, headers=org.headers)


def run(client, org, template_id, trigger, statuses=("completed", "failed", "canceled", "needs_review")):
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal", "config": {}},
                                          factories.render_node(template_id)])
    execution_id = factories.start(client, org, wf["id"], trigger)
    state = factories.wait_for_status(client, org, execution_id, statuses)
    return execution_id, state


def everything_about(client, org, execution_id):
    """Every text the API gives about a run, and its documents' bytes."""
    texts = [client.simulate_get(f"/api/v1/executions/{execution_id}{tail}", headers=org.headers).text
             for tail in ("", "/steps", "/logs", "/preflight", "/audit", "/documents")]
    docs = client.simulate_get(f"/api/v1/executions/{execution_id}/documents", headers=org.headers).json
    for document in docs.get("documents", []):
        texts.append(client.simulate_get(f"/api/v1/executions/{execution_id}/documents/{document['id']}",
                                         headers=org.headers).content)
    return texts, docs.get("documents", [])


def render_step(client, org, execution_id):
    return factories.steps(client, org, execution_id)[1]


STATIC_ESCAPES = [
    "{{ cycler.__init__.__globals__.os.environ }}",
    "{{ joiner.__init__.__globals__.os.popen('id').read() }}",
    "{{ namespace.__init__.__globals__.os.environ['SECRET_KEY'] }}",
    "{{ lipsum.__globals__['os'].environ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ self._TemplateReference__context }}",
    "{{ trigger|attr('__class__')|attr('__mro__') }}",
    "{{ trigger['__class__'] }}",
    "{% include '/etc/passwd' %}",
    "{% import 'os' as os %}",
]


@pytest.mark.parametrize("attack", STATIC_ESCAPES)
def test_an_escape_payload_is_refused_at_upload(client, org, attack):
    resp = upload(client, org, docx_kit.template("Client: {{ client_name }}", attack))

    assert resp.status_code == 422, resp.text
    assert resp.json["error"]["code"] == "template.unsafe"
    assert "not allowed" in resp.json["error"]["message_human"] or "may only read" in resp.json["error"]["message_human"]
    assert_no_secret(resp.text)


def test_a_stored_escape_payload_is_stopped_by_preflight(client, org, worker):
    # Given an escape payload stored before uploads were checked
    content = docx_kit.template("{{ cycler.__init__.__globals__.os.environ }}")
    legacy = template_rows.create(org.id, name="legacy.docx", content_type=DOCX, content=content)

    # When a run uses it
    execution_id, state = run(client, org, str(legacy.id), {"client_name": "Acme"})

    # Then preflight blocks it as unsafe, nothing is rendered and nothing leaks
    assert state["status"] == "needs_review", state
    codes = [i["code"] for group in state["preflight_summary"]["groups"].values() for i in group]
    assert "template.unsafe" in codes
    texts, documents = everything_about(client, org, execution_id)
    assert documents == []
    assert_no_secret(*texts)


# Attacks the static check cannot see (names come from the data): the sandbox stops them while rendering.
RUNTIME_ESCAPES = [
    ("{{ trigger|attr(trigger.k) }}", {"k": "__class__"}),
    ("{{ trigger.s|attr(trigger.k)|attr(trigger.m) }}", {"s": "", "k": "__class__", "m": "__mro__"}),
    ("{{ trigger[trigger.k] }}", {"k": "__class__"}),
    ("{{ trigger.f.format(trigger) }}", {"f": "{0.__class__.__init__.__globals__}"}),
    ("{{ trigger.items.__self__ if false else trigger.get|attr(trigger.k) }}", {"k": "__self__"}),
]


@pytest.mark.parametrize("tag, trigger", RUNTIME_ESCAPES, ids=[a for a, _ in RUNTIME_ESCAPES])
def test_a_runtime_escape_fails_the_step_at_once_as_unsafe(client, org, worker, tag, trigger):
    content = docx_kit.template("Client: {{ client_name }}", tag)
    resp = upload(client, org, content)
    if resp.status_code == 422:  # seen statically: refused at upload, which is fine too
        assert resp.json["error"]["code"] == "template.unsafe"
        return
    assert resp.status_code == 201, resp.text

    execution_id, state = run(client, org, resp.json["id"], {"client_name": "Acme", **trigger})

    step = render_step(client, org, execution_id)
    assert state["status"] in ("failed", "needs_review"), state
    assert step["status"] == "failure" and step["attempt"] == 1, step
    assert "template.unsafe" in str(step["error_tech"]) + str(state["last_error_tech"]) + str(state)
    texts, documents = everything_about(client, org, execution_id)
    assert documents == []
    assert_no_secret(*texts, worker.log())


@pytest.mark.parametrize("name", ["config", "request", "cycler", "joiner", "namespace", "lipsum", "range"])
def test_framework_globals_do_not_exist(client, org, worker, name):
    # `range` is the only global (a bounded one): printing it shows no internals
    resp = upload(client, org, docx_kit.template(f"[{{{{ {name} }}}}]"))
    assert resp.status_code == 201, resp.text

    execution_id, state = run(client, org, resp.json["id"], {"client_name": "Acme"})

    texts, documents = everything_about(client, org, execution_id)
    assert_no_secret(*texts)
    if name == "range":
        step = render_step(client, org, execution_id)
        assert "template.render_error" in str(step["error_tech"]) + str(state) and documents == [], step
        return
    assert state["status"] == "needs_review", state
    codes = [i["code"] for group in state["preflight_summary"]["groups"].values() for i in group]
    assert codes == ["template.unmapped_tags"]


def test_an_endless_loop_is_stopped_and_the_worker_keeps_serving(client, org, worker):
    # Given a template whose loops over the data would run for hours
    content = docx_kit.template("{% for a in big %}{% for b in big %}{% for c in big %}{% endfor %}"
                                "{% endfor %}{% endfor %}done")
    template_id = upload(client, org, content).json["id"]

    # When it runs
    started = time.monotonic()
    execution_id, state = run(client, org, template_id, {"client_name": "Acme", "big": list(range(3000))})

    # Then the step fails once with template.timeout, soon after the deadline, with no document
    step = render_step(client, org, execution_id)
    assert state["status"] in ("failed", "needs_review") and step["attempt"] == 1, (state["preflight_summary"], step)
    assert "template.timeout" in str(step["error_tech"]) + str(state), step
    assert time.monotonic() - started < TIMEOUT_S + 30
    assert everything_about(client, org, execution_id)[1] == []

    # and the same worker renders the next run
    good = upload(client, org, docx_kit.template("Party: {{ party }}")).json["id"]
    _, state = run(client, org, good, {"client_name": "Acme", "party": "Acme"})
    assert state["status"] == "completed", state


@pytest.mark.parametrize("tag", ["{% for i in range(10000) %}{{ 'x' * 60000 }}{% endfor %}",
                                 "{{ 'x' * 500000000 }}", "{{ range(10 ** 9)|list }}",
                                 "{% macro d(s) %}{{ d(s ~ s) }}{% endmacro %}{{ d('ab') }}",
                                 "{{ '%999999999s'|format(1) }}", "{{ 9 ** 999999 }}",
                                 "{{ ('x' * 15000000).join(['a'] * 1000) }}",
                                 "{{ (['a'] * 1000)|join('x' * 15000000) }}",
                                 "{{ ('{0}' * 1000).format('x' * 15000000) }}",
                                 "{{ ('%s' * 1000) % (('x' * 15000000,) * 1000) }}",
                                 "{% set a = 'x' * 15000000 %}{% set b = a ~ a %}{{ b|length }}",
                                 "{% set a = 'x' * 15000000 %}{% set b = a ~ 1 %}{% set c = a ~ 2 %}"
                                 "{% set d = a ~ 3 %}{% set e = a ~ 4 %}{% set f = a ~ 5 %}{% set g = a ~ 6 %}",
                                 "{{ (10).to_bytes(1000000000, 'big') }}", "{{ ('x' * 15000000)|list|length }}"])
def test_a_huge_output_is_stopped_as_too_large(client, org, worker, tag):
    template_id = upload(client, org, docx_kit.template(tag)).json["id"]

    execution_id, state = run(client, org, template_id, {"client_name": "Acme"})

    step = render_step(client, org, execution_id)
    assert state["status"] in ("failed", "needs_review") and step["attempt"] == 1, (state["preflight_summary"], step)
    assert "template.too_large" in str(step["error_tech"]) + str(state), step
    assert everything_about(client, org, execution_id)[1] == []


def test_xml_specials_are_inserted_verbatim(client, org, worker):
    rows = [["{%tr for item in items %}", ""], ["{{ item.name }}", "{{ item.note }}"], ["{%tr endfor %}", ""]]
    content = docx_kit.template("Party: {{ party }}", "Notes: {{ trigger.notes }}", rows=rows)
    template_id = upload(client, org, content).json["id"]
    items = [{"name": "<w:p>injected</w:p>", "note": "a & b"}, {"name": "]]>&amp;", "note": "{{ not_a_tag }}"}]

    execution_id, state = run(client, org, template_id,
                              {"client_name": "Acme", "party": PARTY, "notes": "line 1\nline <2>", "items": items})

    assert state["status"] == "completed", state
    texts, documents = everything_about(client, org, execution_id)
    document = texts[-1]
    assert docx_kit.paragraphs(document)[:2] == [f"Party: {PARTY}", "Notes: line 1\nline <2>"]
    assert docx_kit.table_rows(document) == [["<w:p>injected</w:p>", "a & b"], ["]]>&amp;", "{{ not_a_tag }}"]]
    assert_no_secret(*texts)


def test_upload_answers_fast_for_a_payload_and_the_worker_log_holds_no_secret(client, org, worker):
    wait_until(lambda: worker.log(), 10, message="worker log")
    assert_no_secret(worker.log())

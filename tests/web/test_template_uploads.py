"""Templates are validated when they arrive and describe the fields they need."""
import base64
import io
import zipfile

import pytest

from tests import docx_kit
from tests.integrations.microsoft.office_files import proposal_pptx

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def post(client, org, content, name="t.docx"):
    return client.simulate_post("/api/v1/templates", json={"name": name, "content_type": DOCX,
                                                           "content": base64.b64encode(content).decode()},
                                headers=org.headers)


def zipped(**files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name.replace("__", "/"), text)
    return buffer.getvalue()


@pytest.mark.parametrize("content", [b"%PDF-1.7 not a docx", b"PK\x03\x04 truncated zip", "olá".encode(),
                                     zipped(hello__txt="just a zip"),
                                     zipped(**{"[Content_Types].xml": "<Types/>", "xl__workbook.xml": "<x/>"}),
                                     zipped(**{"[Content_Types].xml": "<Types/>", "word__document.xml": "<broken"})],
                         ids=["pdf", "truncated", "text", "zip", "xlsx", "broken-docx"])
def test_bytes_that_are_not_a_docx_or_pptx_are_422(client, org, content):
    resp = post(client, org, content)

    assert resp.status_code == 422, resp.text
    assert resp.json["error"]["code"] == "template.invalid"
    assert client.simulate_get("/api/v1/templates", headers=org.headers).json["templates"] == []


def test_a_tag_that_does_not_parse_is_422_with_the_tag_and_where(client, org):
    content = docx_kit.template("Client: {{ client_name }}", "Total: {{ amount | }} due")

    resp = post(client, org, content)

    assert resp.status_code == 422, resp.text
    error = resp.json["error"]
    assert error["code"] == "template.invalid"
    assert error["details"]["tag"] == "{{ amount | }}"
    assert error["details"]["where"] == {"part": "document body", "text": "Total: {{ amount | }} due"}
    assert "{{ amount | }}" in error["message_human"] and error["details"]["message"]


@pytest.mark.parametrize("tag", ["{% for x in items %}never closed", "{{ total|no_such_filter }}",
                                 "{%p if a %}", "{{ a }"])
def test_other_broken_tags_are_422(client, org, tag):
    resp = post(client, org, docx_kit.template("Start", tag))
    assert resp.status_code == 422, resp.text
    assert resp.json["error"]["code"] == "template.invalid"


def test_a_broken_replacement_is_refused_and_the_old_version_kept(client, org):
    created = post(client, org, docx_kit.template("{{ a }}")).json
    resp = client.simulate_put(f"/api/v1/templates/{created['id']}?name=v2.docx", body=b"not a docx",
                               headers={**org.headers, "Content-Type": DOCX})
    assert resp.status_code == 422 and resp.json["error"]["code"] == "template.invalid"
    assert client.simulate_get(f"/api/v1/templates/{created['id']}", headers=org.headers).json["version"] == 1


def test_get_lists_the_fields_and_loops_the_template_needs(client, org):
    rows = [["{%tr for item in items %}", ""], ["{{ item.description }}", "{{ item.price|currency }}"],
            ["{%tr endfor %}", ""]]
    content = docx_kit.template("{{ client_name }} / {{ contact.name }} <{{ contact.email }}>",
                                "{%p if discount is defined %}", "{{ discount|percent }}", "{%p endif %}",
                                "Ref {{ trigger.deal_id }}, {{ step.contract.name }}, {{ loop_free }}", rows=rows)
    template_id = post(client, org, content).json["id"]

    body = client.simulate_get(f"/api/v1/templates/{template_id}", headers=org.headers).json

    assert body["kind"] == "docx"
    assert body["fields"] == ["client_name", "contact.email", "contact.name", "discount", "loop_free",
                              "step.contract.name", "trigger.deal_id"]
    assert body["loops"] == [{"name": "items", "item_fields": ["description", "price"]}]


def test_a_pptx_template_is_accepted_and_described(client, org):
    resp = post(client, org, proposal_pptx(), name="p.pptx")
    assert resp.status_code == 201, resp.text
    body = client.simulate_get(f"/api/v1/templates/{resp.json['id']}", headers=org.headers).json
    assert body["kind"] == "pptx"
    assert {"client_name", "contact.name", "amount", "currency", "trigger.deal_id", "scope"} <= set(body["fields"])


def test_preflight_checks_the_same_field_list_against_the_trigger(client, org):
    from tests import factories

    template_id = post(client, org, docx_kit.template("{{ client_name }} {{ trigger.deal_id }}",
                                                      "{% for i in items %}{{ i.x }}{% endfor %}")).json["id"]
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal", "config": {}},
                                          {"node_type": "local-docx", "label": "c",
                                           "config": {"template_id": template_id}}])

    resp = client.simulate_post(f"/api/v1/workflows/{wf['id']}/preflight",
                                json={"trigger_data": {"client_name": "Acme"}}, headers=org.headers)

    assert resp.status_code == 200, resp.text
    assert "deal_id, items" in resp.text and "template.unmapped_tags" in resp.text

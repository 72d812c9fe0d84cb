"""Workflows are validated when saved: every template or connection id names a row of the org."""
import pytest

from tests import factories


def save(client, org, nodes, workflow_id=None):
    body = {"name": "refs", "nodes": nodes}
    if workflow_id:
        return client.simulate_put(f"/api/v1/workflows/{workflow_id}", json=body, headers=org.headers)
    return client.simulate_post("/api/v1/workflows", json=body, headers=org.headers)


def connection(client, org, name="Sign account"):
    resp = client.simulate_post("/api/v1/connections", headers=org.headers, json={
        "provider": "zapsign", "name": name, "credentials": {"api_token": "t"}})
    assert resp.status_code == 201, resp.text
    return resp.json["id"]


def test_a_template_name_in_place_of_its_id_is_refused_with_a_hint(client, org):
    template_id = factories.template(client, org, name="Contract")

    resp = save(client, org, [{"node_type": "local-docx", "label": "contract", "config": {"template_id": "Contract"}}])

    assert resp.status_code == 422
    error = resp.json["error"]
    assert "contract" in error["message_human"] and "template_id" in error["message_human"]
    assert f"did you mean template {template_id}?" in error["message_human"]
    assert error["details"] == [{"node": "contract", "field": "config.template_id", "hint":
                                 f"did you mean template {template_id}?", "problem": "'Contract' is not a template id"}]


@pytest.mark.parametrize("value", ["not-an-id", "00000000-0000-0000-0000-000000000000", 42, ["x"], "  "])
def test_a_template_id_that_names_nothing_is_refused(client, org, value):
    resp = save(client, org, [{"node_type": "local-docx", "label": "doc", "config": {"template_id": value}}])
    assert resp.status_code == 422, resp.text
    assert resp.json["error"]["details"][0]["node"] == "doc"
    assert resp.json["error"]["details"][0]["field"] == "config.template_id"


def test_ids_of_another_organization_or_deleted_rows_name_nothing(client, org, other_org):
    theirs = factories.template(client, other_org)
    gone = factories.template(client, org)
    assert client.simulate_delete(f"/api/v1/templates/{gone}", headers=org.headers).status_code == 204
    for template_id in (theirs, gone):
        resp = save(client, org, [{"node_type": "local-docx", "config": {"template_id": template_id}}])
        assert resp.status_code == 422
        assert resp.json["error"]["details"][0]["node"] == "local-docx-1"
        assert resp.json["error"]["details"][0]["hint"] is None


def test_connection_ids_are_checked_on_put_too_and_names_get_a_hint(client, org):
    workflow = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"}])
    connection_id = connection(client, org, name="ZapSign prod")
    sign = {"node_type": "zapsign", "label": "sign", "config": {"connection_id": "ZapSign prod", "signers": []}}

    resp = save(client, org, [sign], workflow["id"])

    assert resp.status_code == 422
    assert resp.json["error"]["details"][0]["field"] == "config.connection_id"
    assert resp.json["error"]["details"][0]["hint"] == f"did you mean connection {connection_id}?"
    ok = save(client, org, [{**sign, "config": {**sign["config"], "connection_id": connection_id}}], workflow["id"])
    assert ok.status_code == 200, ok.text


def test_real_ids_and_variables_are_accepted(client, org):
    template_id = factories.template(client, org)
    nodes = [factories.render_node(template_id),
             {"node_type": "local-docx", "label": "chosen", "config": {"template_id": "{{trigger.template}}"}}]
    assert save(client, org, nodes).status_code == 201

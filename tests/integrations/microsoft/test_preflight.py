"""Preflight of the Microsoft nodes: connection, template and folder checked before a run."""
import pytest

from cli import sample
from tests import factories
from tests.integrations.microsoft.office_files import DOCX, contract_docx


def preflight(client, org, nodes, trigger=None):
    wf = factories.workflow(client, org, nodes)
    resp = client.simulate_post(f"/api/v1/workflows/{wf['id']}/preflight",
                                json={"trigger_data": trigger or sample.trigger_data()}, headers=org.headers)
    assert resp.status_code == 200, resp.text
    return [(issue["code"], issue["domain"]) for issue in resp.json["issues"]]


def word(connection_id, template_id, **config):
    return {"node_type": "microsoft-word", "label": "contract",
            "config": {"connection_id": connection_id, "template_item_id": template_id, **config}}


@pytest.fixture
def connection_id(graph, connect):
    return connect(graph.credentials())


def test_a_reachable_template_and_folder_pass(client, org, graph, connection_id):
    template = graph.add_file("Contract.docx", contract_docx(), mime=DOCX)
    folder = graph.add_folder("Contracts")

    assert preflight(client, org, [word(connection_id, template.id, folder_item_id=folder.id)]) == []

    assert graph.calls() == [("GET", f"/me/drive/items/{template.id}"), ("GET", f"/me/drive/items/{folder.id}")]
    assert {seen.headers["Authorization"] for seen in graph.requests} == {"Bearer graph-access-1"}


@pytest.mark.parametrize("problem, expected", [
    ("missing template", ("template.not_found", "template")),
    ("template is a folder", ("template.not_found", "template")),
    ("template is a .doc", ("template.not_found", "template")),
    ("template not shared", ("drive.insufficient_permissions", "permissions")),
    ("missing folder", ("drive.folder_not_found", "permissions")),
    ("folder is a file", ("drive.folder_not_found", "permissions")),
])
def test_template_and_folder_problems_block_the_run(client, org, graph, connection_id, problem, expected):
    template = graph.add_file("Contract.docx", contract_docx(), mime=DOCX)
    folder = graph.add_folder("Contracts")
    template_id, folder_id = template.id, folder.id
    if problem == "missing template":
        template_id = "01BYE5RZDELETED"
    elif problem == "template is a folder":
        template_id = folder.id
    elif problem == "template is a .doc":
        template_id = graph.add_file("Contract.doc", b"\xd0\xcf\x11\xe0").id
    elif problem == "template not shared":
        graph.denied.add(template.id)
    elif problem == "missing folder":
        folder_id = "01BYE5RZGONE"
    else:
        folder_id = template.id

    assert preflight(client, org, [word(connection_id, template_id, folder_item_id=folder_id)]) == [expected]


def test_values_resolved_only_at_run_time_are_not_checked(client, org, graph, connection_id):
    nodes = [word(connection_id, "{{step.pick.item_id}}", folder_item_id="{{step.pick.folder}}")]

    issues = preflight(client, org, nodes)

    assert ("GET", "/me") in graph.calls() and len(graph.requests) == 1  # still proves the connection works
    assert issues == [("unresolved_variables", "data")]


def test_a_revoked_or_foreign_connection_blocks_with_reconnect(client, org, graph, connect, other_org):
    template = graph.add_file("Contract.docx", contract_docx(), mime=DOCX)
    revoked = connect(graph.credentials(), status="revoked")
    outlook = {"node_type": "outlook", "label": "send",
               "config": {"connection_id": revoked, "to": ["ana@acme.example"]}}

    issues = preflight(client, org, [word(revoked, template.id), outlook])

    assert issues == [("oauth_expired", "permissions"), ("oauth_expired", "permissions")]
    assert graph.requests == []
    # another organization cannot even save a workflow naming that connection
    foreign = client.simulate_post("/api/v1/workflows", json={"name": "x", "nodes": [word(revoked, template.id)]},
                                   headers=other_org.headers)
    assert foreign.status_code == 422 and foreign.json["error"]["details"][0]["field"] == "config.connection_id"


def test_outlook_checks_recipients_and_the_account(client, org, graph, connection_id):
    nodes = [{"node_type": "outlook", "label": "send",
              "config": {"connection_id": connection_id, "to": ["not-an-address"], "subject": "x"}}]
    assert preflight(client, org, nodes) == [("delivery.invalid_email", "delivery")]

    nodes[0]["config"]["to"] = ["{{trigger.contact.email}}"]
    assert preflight(client, org, nodes) == []
    assert graph.calls() == [("GET", "/me")]


def test_a_share_link_needs_a_file_a_valid_type_and_a_reachable_item(client, org, graph, connection_id):
    template = graph.add_file("Contract.docx", contract_docx(), mime=DOCX)
    share = {"node_type": "onedrive-share-link", "label": "link", "config": {"connection_id": connection_id}}
    assert preflight(client, org, [share]) == [("drive.no_file", "data")]
    wf = factories.workflow(client, org, [share])
    answer = client.simulate_post(f"/api/v1/workflows/{wf['id']}/preflight", json={"trigger_data": {}},
                                  headers=org.headers).json
    assert [a["action"] for a in answer["recommended_actions"]] == ["edit_step"]

    share["config"].update(type="comment")
    assert preflight(client, org, [word(connection_id, template.id), share]) == [("invalid_config", "data")]

    share["config"].update(type="edit", item_id="01DELETED")
    assert preflight(client, org, [share]) == [("drive.file_not_found", "permissions")]

    del share["config"]["item_id"]
    assert preflight(client, org, [word(connection_id, template.id), share]) == []
    assert ("POST", f"/me/drive/items/{template.id}/createLink") not in graph.calls()


def test_an_outlook_draft_checks_recipients_and_the_account(client, org, graph, connection_id):
    nodes = [{"node_type": "outlook-create-draft", "label": "review",
              "config": {"connection_id": connection_id, "to": ["{{trigger.contact.email}}"], "body_type": "Markdown"}}]
    assert preflight(client, org, nodes) == [("invalid_config", "data")]

    nodes[0]["config"]["body_type"] = "HTML"
    assert preflight(client, org, nodes) == [] and graph.calls() == [("GET", "/me")]


def test_a_connection_granted_fewer_scopes_than_a_step_needs_blocks_with_reconnect(client, org, graph, connect):
    # Given an Outlook connection signed in before drafts existed (no Mail.ReadWrite granted)
    older = connect(graph.credentials(scope="https://graph.microsoft.com/Mail.Send Files.ReadWrite User.Read"))
    draft = {"node_type": "outlook-create-draft", "label": "draft",
             "config": {"connection_id": older, "to": ["ana@acme.example"], "subject": "x"}}
    send = {"node_type": "outlook", "label": "send",
            "config": {"connection_id": older, "to": ["ana@acme.example"], "subject": "x"}}

    # Then sending is allowed (the Graph prefix is understood) but drafting is blocked before any call
    assert preflight(client, org, [send]) == []
    graph.requests.clear()
    wf = factories.workflow(client, org, [draft])
    answer = client.simulate_post(f"/api/v1/workflows/{wf['id']}/preflight", json={"trigger_data": {}},
                                  headers=org.headers).json
    assert [(i["code"], i["domain"]) for i in answer["issues"]] == [("oauth.missing_scope", "permissions")]
    assert "Mail.ReadWrite" in answer["issues"][0]["message_human"]
    assert [a["action"] for a in answer["recommended_actions"]] == ["reconnect_provider"]
    assert graph.requests == []

    # and a connection granted the wider Files.ReadWrite.All still covers a share link
    wide = connect(graph.credentials(scope="Files.ReadWrite.All Mail.ReadWrite User.Read"))
    assert ("oauth.missing_scope", "permissions") not in preflight(client, org, [
        {"node_type": "onedrive-share-link", "label": "link", "config": {"connection_id": wide, "item_id": "x"}}])

"""The Graph client against a local server speaking Microsoft Graph and its token endpoint."""
import json
import types

import pytest

from integrations.connections import handle_for
from integrations.errors import AuthExpired, BadResponse, IntegrationError, RateLimited, Unavailable
from integrations.microsoft.graph import Graph
from integrations.microsoft.outlook import attachable, build_message
from storage.models import Connection
from tests.integrations.microsoft.fake_graph import pdf_for
from tests.integrations.microsoft.office_files import DOCX, contract_docx


@pytest.fixture
def connection_id(graph, connect):
    return connect(graph.credentials())


@pytest.fixture
def api(connection_id, org, services):
    return Graph(handle_for(connection_id, org.id, services.settings).session("corr-42"))


def test_download_follows_the_302_to_the_file_host_without_the_token(graph, api):
    content = contract_docx()  # once: two builds a second apart differ in the zip's timestamps
    template = graph.add_file("Contract.docx", content, mime=DOCX)

    assert api.download(template.id) == content

    assert graph.calls() == [("GET", f"/me/drive/items/{template.id}/content")]
    [sent] = graph.requests
    assert sent.headers["Authorization"] == "Bearer graph-access-1"
    assert sent.headers["X-Correlation-ID"] == "corr-42"
    [download] = graph.downloads
    assert "Authorization" not in download.headers
    assert download.headers["X-Correlation-ID"] == "corr-42"


def test_a_failed_download_link_is_retried_not_blamed_on_the_connection(graph, api):
    template = graph.add_file("Contract.docx", contract_docx(), mime=DOCX)
    graph.links_expired = True

    with pytest.raises(Unavailable) as error:
        api.download(template.id)

    assert error.value.retryable and "/download/" in error.value.message_tech and "401" in error.value.message_tech
    assert graph.token_requests == []


def test_a_file_over_the_simple_upload_limit_is_refused_before_calling(graph, api):
    with pytest.raises(IntegrationError) as error:
        api.upload("root", "Huge.docx", b"x" * (4 * 1024 * 1024 + 1), content_type=DOCX)

    assert error.value.code == "drive.file_too_large" and graph.requests == []


def test_items_are_read_from_the_own_or_a_shared_drive(graph, api):
    shared = graph.add_file("Deck.pptx", b"pptx", drive="b!team-drive")

    item = api.item(shared.id, "b!team-drive")

    assert (item.id, item.name, item.is_folder, item.drive_id, item.parent_id) == (
        shared.id, "Deck.pptx", False, "b!team-drive", "root")
    assert graph.requests[-1].path == f"/drives/b!team-drive/items/{shared.id}"
    assert graph.requests[-1].query["$select"] == "id,name,size,file,folder,webUrl,parentReference"
    with pytest.raises(IntegrationError) as error:
        api.item(shared.id)  # not in the account's own drive
    assert error.value.code == "template.not_found"
    assert "itemNotFound" in error.value.message_tech and "request-id" in error.value.message_tech


def test_upload_renames_on_a_clash_and_the_upload_converts_to_pdf(graph, api):
    folder = graph.add_folder("Contracts")
    earlier = graph.add_file("Contract Acme.docx", b"an earlier run's contract", parent=folder.id)

    item = api.upload(folder.id, "Contract Acme.docx", b"new contract", content_type=DOCX)

    put = graph.requests[-1]
    assert (put.method, put.path) == ("PUT", f"/me/drive/items/{folder.id}:/Contract Acme.docx:/content")
    assert put.query == {"@microsoft.graph.conflictBehavior": "rename"}
    assert put.headers["Content-Type"] == DOCX and put.body == b"new contract"
    assert (item.name, item.parent_id, item.drive_id) == ("Contract Acme 1.docx", folder.id, graph.me_drive)
    assert item.web_url.endswith("/Contract Acme 1.docx")
    assert graph.items[earlier.id].content == b"an earlier run's contract"

    pdf = api.download(item.id, format="pdf", kind="document")

    assert pdf == pdf_for("Contract Acme 1.docx", b"new contract")
    assert graph.requests[-1].query == {"format": "pdf"}


def test_upload_replace_keeps_the_item_and_fail_refuses_the_clash(graph, api):
    folder = graph.add_folder("Contracts")
    earlier = graph.add_file("Contract Acme.docx", b"old", parent=folder.id)

    replaced = api.upload(folder.id, "Contract Acme.docx", b"new", content_type=DOCX, conflict="replace")
    assert replaced.id == earlier.id and graph.items[earlier.id].content == b"new"

    with pytest.raises(BadResponse) as error:
        api.upload(folder.id, "Contract Acme.docx", b"newer", content_type=DOCX, conflict="fail")
    assert error.value.code == "drive.name_conflict"


@pytest.mark.parametrize("status, graph_code, headers, call, expected_code, retryable", [
    (404, "itemNotFound", None, "template", "template.not_found", False),
    (403, "accessDenied", None, "template", "drive.insufficient_permissions", False),
    (404, "itemNotFound", None, "upload", "drive.folder_not_found", False),
    (403, "accessDenied", None, "upload", "drive.insufficient_permissions", False),
    (507, "quotaLimitReached", None, "upload", "drive.quota_exceeded", False),
    (429, "TooManyRequests", {"Retry-After": "7"}, "mail", "rate_limit", True),
    (503, "serviceNotAvailable", {"Retry-After": "5"}, "mail", "connection_error", True),
    (400, "ErrorInvalidRecipients", None, "mail", "delivery.invalid_email", False),
    (404, "MailboxNotEnabledForRESTAPI", None, "mail", "connection_error", False),
    (403, "ErrorAccessDenied", None, "mail", "permission_denied", False),
    (403, "ErrorAccessDenied", None, "draft", "permission_denied", False),
    (404, "MailboxNotEnabledForRESTAPI", None, "draft", "connection_error", False),
    (413, "ErrorRequestEntityTooLarge", None, "draft", "delivery.attachment_too_large", False),
    (429, "ApplicationThrottled", {"Retry-After": "7"}, "draft", "rate_limit", True),
    (404, "itemNotFound", None, "link", "drive.file_not_found", False),
    (403, "accessDenied", None, "link", "drive.insufficient_permissions", False),
    (429, "activityLimitReached", {"Retry-After": "7"}, "link", "rate_limit", True),
])
def test_graph_error_bodies_map_to_codes_people_can_act_on(graph, api, status, graph_code, headers, call,
                                                         expected_code, retryable):
    template = graph.add_file("Contract.docx", b"x")
    pattern = {"template": "/items/", "upload": ":/content", "mail": "/sendMail", "draft": "^/me/messages$",
               "link": "/createLink"}[call]
    method = {"template": "GET", "upload": "PUT", "mail": "POST", "draft": "POST", "link": "POST"}[call]
    graph.fail_next(method, pattern, status, graph_code, f"{graph_code} says no.", headers)

    with pytest.raises(IntegrationError) as error:
        if call == "template":
            api.item(template.id)
        elif call == "upload":
            api.upload("root", "Out.docx", b"x", content_type=DOCX)
        elif call == "draft":
            api.create_draft(build_message(subject="s", body="b", body_type="Text", to=["ana@acme.example"], cc=[],
                                           attachments=[], message_id="<m@docg>", correlation_id="corr-42"))
        elif call == "link":
            api.create_link(template.id)
        else:
            api.send_mail(build_message(subject="s", body="b", body_type="Text", to=["ana@acme.example"], cc=[],
                                        attachments=[], message_id="<m@docg>", correlation_id="corr-42"))

    assert (error.value.code, error.value.retryable) == (expected_code, retryable)
    assert [seen.method for seen in graph.requests] == [method]  # creating calls are never repeated
    assert graph.mail == [] and graph.drafts == {} and graph.links == {}
    assert f"{status} {graph_code}: {graph_code} says no." in error.value.message_tech
    if status == 429:
        assert isinstance(error.value, RateLimited) and error.value.retry_after == 7.0
    if status == 503:
        assert isinstance(error.value, Unavailable) and "Retry-After 5s" in error.value.message_tech


def test_send_mail_posts_one_json_message_and_expects_202(graph, api):
    message = build_message(subject="Your contract", body="<p>Hi</p>", body_type="HTML", to=["ana@acme.example"],
                            cc=["bruno@acme.example"], attachments=[], message_id="<e.n.outlook_send@docg>",
                            correlation_id="corr-42")

    api.send_mail(message, save_to_sent_items=False)

    [mail] = graph.mail
    assert mail["headers"]["Content-Type"] == "application/json"
    assert mail["saveToSentItems"] is False
    sent = mail["message"]
    assert sent["body"] == {"contentType": "HTML", "content": "<p>Hi</p>"}
    assert sent["toRecipients"] == [{"emailAddress": {"address": "ana@acme.example"}}]
    assert sent["ccRecipients"] == [{"emailAddress": {"address": "bruno@acme.example"}}]
    assert sent["internetMessageId"] == "<e.n.outlook_send@docg>"
    assert sent["internetMessageHeaders"] == [{"name": "X-DocG-Message-ID", "value": "<e.n.outlook_send@docg>"},
                                              {"name": "X-Correlation-ID", "value": "corr-42"}]


def test_create_draft_posts_the_message_to_drafts_with_file_attachments(graph, api):
    pdf = b"%PDF-1.7 contract"
    document = types.SimpleNamespace(name="Contract.pdf", content_type="application/pdf", content=pdf)
    message = build_message(subject="For review", body="<p>Hi</p>", body_type="HTML", to=["ana@acme.example"], cc=[],
                            attachments=[document], message_id="<e.n.outlook_draft@docg>", correlation_id="corr-42")

    draft = api.create_draft(message)

    [request] = [seen for seen in graph.requests if seen.path == "/me/messages"]
    assert request.method == "POST" and request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Correlation-ID"] == "corr-42" and request.headers["Authorization"].startswith("Bearer ")
    saved = graph.drafts[draft["id"]]
    assert saved["subject"] == "For review" and saved["toRecipients"] == [{"emailAddress": {"address":
                                                                                             "ana@acme.example"}}]
    [attachment] = saved["attachments"]
    assert (attachment["@odata.type"], attachment["name"], attachment["contentType"], attachment["content"]) == (
        "#microsoft.graph.fileAttachment", "Contract.pdf", "application/pdf", pdf)
    assert draft["isDraft"] is True and draft["webLink"].startswith("https://outlook.office365.com/owa/?ItemID=")
    assert graph.mail == []


def test_more_than_3_mb_of_attachments_is_refused_before_calling(graph):
    big = types.SimpleNamespace(name="Scan.pdf", content=b"%" * (3 * 1024 * 1024 + 1))

    with pytest.raises(IntegrationError) as error:
        attachable([big])

    assert error.value.code == "delivery.attachment_too_large" and "3 MB" in error.value.message_human
    assert attachable([types.SimpleNamespace(name="Small.pdf", content=b"%PDF")])


def test_create_link_asks_for_type_scope_and_expiry_and_graph_reuses_the_link(graph, api):
    shared = graph.add_file("Contract.docx", b"docx", drive="b!shared-drive")

    first = api.create_link(shared.id, "b!shared-drive", type="edit", scope="organization",
                            expires="2026-06-01T00:00:00Z")
    again = api.create_link(shared.id, "b!shared-drive", type="edit", scope="organization")

    calls = [seen for seen in graph.requests if seen.path.endswith("/createLink")]
    assert [seen.path for seen in calls] == [f"/drives/b!shared-drive/items/{shared.id}/createLink"] * 2
    assert json.loads(calls[0].body) == {"type": "edit", "scope": "organization",
                                         "expirationDateTime": "2026-06-01T00:00:00Z"}
    assert json.loads(calls[1].body) == {"type": "edit", "scope": "organization"}
    assert calls[0].headers["X-Correlation-ID"] == "corr-42"
    assert first["link"]["webUrl"] == again["link"]["webUrl"] and first["id"] == again["id"]
    assert (first["link"]["type"], first["link"]["scope"], first["expirationDateTime"]) == (
        "edit", "organization", "2026-06-01T00:00:00Z")


@pytest.mark.parametrize("call", ["draft", "link"])
def test_a_revoked_consent_stops_drafts_and_links_as_oauth_expired(graph, connect, org, services, call):
    item = graph.add_file("Contract.docx", b"docx")
    connection_id = connect(graph.credentials())
    api = Graph(handle_for(connection_id, org.id, services.settings).session("corr-42"))
    graph.revoke()  # Graph answers 401 InvalidAuthenticationToken and the refresh invalid_grant

    with pytest.raises(AuthExpired) as error:
        if call == "draft":
            api.create_draft(build_message(subject="s", body="b", body_type="Text", to=["ana@acme.example"], cc=[],
                                           attachments=[], message_id="<m@docg>", correlation_id="corr-42"))
        else:
            api.create_link(item.id)

    assert error.value.code == "oauth_expired"
    assert len(graph.requests) == 1 and graph.drafts == {} and graph.links == {}


def test_a_rejected_token_is_refreshed_once_and_the_call_repeated(graph, connect, org, services):
    # Given a connection whose token Graph no longer accepts, though it has not expired yet
    connection_id = connect(graph.credentials(access_token="revoked-by-a-password-change"))
    api = Graph(handle_for(connection_id, org.id, services.settings).session("corr-42"))

    # When the client calls Graph
    me = api.me()

    # Then the 401 led to one refresh and the same call with the new token
    assert me["userPrincipalName"] == "ana@acme.onmicrosoft.com"
    [refresh] = graph.token_requests
    assert (refresh["grant_type"], refresh["refresh_token"]) == ("refresh_token", "graph-refresh-1")
    first, second = graph.requests
    assert first.headers["Authorization"] == "Bearer revoked-by-a-password-change"
    new_token = second.headers["Authorization"].removeprefix("Bearer ")
    assert new_token in graph.access_tokens
    stored = Connection.get_by_id(connection_id).credentials
    assert stored["access_token"] == new_token and stored["refresh_token"] != "graph-refresh-1"


def test_a_refused_refresh_marks_the_connection_revoked(graph, connect, org, services):
    connection_id = connect(graph.credentials(expires_at="2020-01-01T00:00:00+00:00"))
    graph.revoke()

    with pytest.raises(AuthExpired) as error:
        Graph(handle_for(connection_id, org.id, services.settings).session()).me()

    assert error.value.code == "oauth_expired" and "invalid_grant" in error.value.message_tech
    assert Connection.get_by_id(connection_id).status == "revoked"
    assert graph.requests == []


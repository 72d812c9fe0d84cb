"""Images stored with a template: validated, tenant-scoped, audited, listed, checked by preflight."""
import base64

import pytest

from storage.models import AuditEvent
from tests import docx_kit, factories

PNG = "image/png"


def images_url(template_id, name=None):
    return f"/api/v1/templates/{template_id}/images" + (f"/{name}" if name else "")


def put_raw(client, org, template_id, name, content, content_type=PNG):
    return client.simulate_put(images_url(template_id, name), body=content,
                               headers={**org.headers, "Content-Type": content_type})


def put_json(client, org, template_id, name, content):
    return client.simulate_put(images_url(template_id, name), json={"content": content}, headers=org.headers)


@pytest.fixture
def logo_template(client, org):
    return factories.template(client, org, docx_kit.template("{{ template_image('logo', width_mm=40) }}",
                                                             "{{ client_name }}"), name="letterhead.docx")


def test_an_image_is_stored_listed_read_back_replaced_and_deleted(client, org, logo_template):
    # Given a template that places the image `logo`, not stored yet
    described = client.simulate_get(f"/api/v1/templates/{logo_template}", headers=org.headers).json
    assert described["image_names"] == ["logo"] and described["missing_images"] == ["logo"]
    assert described["images"] == []

    # When a PNG is stored as a raw body, it is listed with the template and read back as it was
    png = docx_kit.png(3, 2)
    created = put_raw(client, org, logo_template, "logo", png)
    assert created.status_code == 201, created.text
    assert created.json["content_type"] == PNG and created.json["size"] == len(png)
    described = client.simulate_get(f"/api/v1/templates/{logo_template}", headers=org.headers).json
    assert [i["name"] for i in described["images"]] == ["logo"] and described["missing_images"] == []
    listed = client.simulate_get(images_url(logo_template), headers=org.headers).json["images"]
    assert [(i["name"], i["size"]) for i in listed] == [("logo", len(png))]
    read = client.simulate_get(images_url(logo_template, "logo"), headers=org.headers)
    assert read.status_code == 200 and read.content == png and read.headers["content-type"] == PNG

    # and a GIF sent as a JSON data URI replaces it (200, same name), the same bytes again change nothing
    gif_uri = "data:image/gif;base64," + base64.b64encode(docx_kit.gif()).decode()
    replaced = put_json(client, org, logo_template, "logo", gif_uri)
    assert replaced.status_code == 200 and replaced.json["content_type"] == "image/gif"
    assert put_json(client, org, logo_template, "logo", gif_uri).status_code == 200
    assert client.simulate_get(images_url(logo_template, "logo"), headers=org.headers).content == docx_kit.gif()

    # Then deleting it is audited with the rest, and it is gone
    assert client.simulate_delete(images_url(logo_template, "logo"), headers=org.headers).status_code == 204
    assert client.simulate_get(images_url(logo_template, "logo"), headers=org.headers).status_code == 404
    assert client.simulate_delete(images_url(logo_template, "logo"), headers=org.headers).status_code == 404
    audit = list(AuditEvent.select().where((AuditEvent.organization_id == org.id)
                                           & AuditEvent.action.startswith("template.image_"))
                 .order_by(AuditEvent.id))
    assert [(a.action, a.target_id, a.metadata["image"]) for a in audit] == [
        ("template.image_stored", logo_template, "logo"), ("template.image_stored", logo_template, "logo"),
        ("template.image_deleted", logo_template, "logo")]
    assert audit[1].metadata["previous_sha256"] == audit[0].metadata["sha256"]
    assert audit[0].actor_type == "user"


@pytest.mark.parametrize("content_type, body", [
    ("text/plain", b"hello"),
    ("application/pdf", b"%PDF-1.7 not an image"),
    (PNG, b"%PDF-1.7 not an image"),
    (PNG, b"\x89PNG\r\n\x1a\n truncated"),
    ("image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
    (PNG, b""),
], ids=["text", "pdf", "pdf-as-png", "damaged-png", "svg", "empty"])
def test_a_non_image_upload_is_422_and_nothing_is_stored(client, org, logo_template, content_type, body):
    resp = put_raw(client, org, logo_template, "logo", body, content_type)

    assert resp.status_code == 422, resp.text
    assert resp.json["error"]["code"] == "template.image_invalid" and resp.json["error"]["message_human"]
    assert client.simulate_get(images_url(logo_template), headers=org.headers).json["images"] == []


@pytest.mark.parametrize("content", ["https://evil.example/logo.png", "data:image/png,notbase64", "aGVsbG8=",
                                     "not base64 at all!"])
def test_a_json_upload_must_be_base64_of_a_picture_and_a_url_is_never_fetched(client, org, logo_template, content):
    resp = put_json(client, org, logo_template, "logo", content)

    assert resp.status_code == 422, resp.text
    assert resp.json["error"]["code"] == "template.image_invalid"


@pytest.mark.parametrize("name", ["Logo", "a" * 65, "logo.png", "..", "l%C3%B3go", "a%20b"])
def test_image_names_are_lowercase_letters_digits_dash_and_underscore(client, org, logo_template, name):
    resp = put_raw(client, org, logo_template, name, docx_kit.png())
    assert resp.status_code == 422, resp.text
    assert resp.json["error"]["code"] == "template.image_name_invalid"


def test_an_image_over_5_mb_is_refused(client, org, logo_template):
    big = docx_kit.png() + b"\x00" * (5 * 1024 * 1024)
    assert put_raw(client, org, logo_template, "logo", big).status_code == 413
    as_json = put_json(client, org, logo_template, "logo", base64.b64encode(big).decode())
    assert as_json.status_code in (413, 422) and client.simulate_get(
        images_url(logo_template), headers=org.headers).json["images"] == []


def test_another_organization_can_neither_read_nor_overwrite_nor_delete_an_image(client, org, other_org,
                                                                                   logo_template):
    # Given org's template with its logo
    png = docx_kit.png()
    assert put_raw(client, org, logo_template, "logo", png).status_code == 201

    # When another organization tries every image call on it, each is a 404
    assert client.simulate_get(images_url(logo_template), headers=other_org.headers).status_code == 404
    assert client.simulate_get(images_url(logo_template, "logo"), headers=other_org.headers).status_code == 404
    assert put_raw(client, other_org, logo_template, "logo", docx_kit.gif(), "image/gif").status_code == 404
    assert client.simulate_delete(images_url(logo_template, "logo"), headers=other_org.headers).status_code == 404

    # Then org's image is untouched, and nothing was audited for the other organization
    assert client.simulate_get(images_url(logo_template, "logo"), headers=org.headers).content == png
    assert not AuditEvent.select().where((AuditEvent.organization_id == other_org.id)
                                         & AuditEvent.action.startswith("template.image_")).exists()


def test_a_deleted_template_has_no_images(client, org, logo_template):
    assert put_raw(client, org, logo_template, "logo", docx_kit.png()).status_code == 201
    assert client.simulate_delete(f"/api/v1/templates/{logo_template}", headers=org.headers).status_code == 204
    assert client.simulate_get(images_url(logo_template, "logo"), headers=org.headers).status_code == 404


def test_a_template_naming_an_impossible_image_is_refused_at_upload(client, org):
    content = docx_kit.template("{{ template_image('Company Logo') }}")
    resp = client.simulate_post("/api/v1/templates", json={
        "name": "t.docx", "content_type": "application/octet-stream",
        "content": base64.b64encode(content).decode()}, headers=org.headers)
    assert resp.status_code == 422, resp.text
    assert resp.json["error"]["code"] == "template.invalid" and "Company Logo" in resp.json["error"]["message_human"]


def test_preflight_flags_an_image_the_template_places_but_does_not_store(client, org, logo_template):
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal", "config": {}},
                                          {"node_type": "local-docx", "label": "letter",
                                           "config": {"template_id": logo_template}}])

    def issues():
        resp = client.simulate_post(f"/api/v1/workflows/{wf['id']}/preflight",
                                    json={"trigger_data": {"client_name": "Acme"}}, headers=org.headers)
        assert resp.status_code == 200, resp.text
        return {i["code"]: i for i in resp.json["issues"]}

    missing = issues()["template.image_missing"]
    assert missing["domain"] == "template" and missing["severity"] == "blocking"
    assert "letterhead.docx" in missing["message_human"] and "logo" in missing["message_human"]
    assert put_raw(client, org, logo_template, "logo", docx_kit.png()).status_code == 201
    assert "template.image_missing" not in issues()


def test_a_template_keeps_at_most_20_images(client, org, logo_template):
    for number in range(20):
        assert put_raw(client, org, logo_template, f"img-{number}", docx_kit.png(1, number + 1)).status_code == 201

    resp = put_raw(client, org, logo_template, "one-more", docx_kit.png())

    assert resp.status_code == 409 and "at most 20" in resp.json["error"]["message_human"]
    assert put_raw(client, org, logo_template, "img-0", docx_kit.gif(), "image/gif").status_code == 200

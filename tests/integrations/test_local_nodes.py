"""Local nodes and the variable resolver, on real files and data."""
import io

import docx
import pytest

from cli import sample
from integrations.errors import InvalidConfig, UnresolvedVariables
from integrations.local.docx import render_docx, template_context
from integrations.local.email import invalid_emails
from integrations.local.folder import resolve_folder
from integrations.variables import resolve, unresolved
from storage.redact import REDACTED, redact

RUN = {"trigger": {"name": "Ana", "items": [{"sku": "A1"}], "n": 3},
       "steps": {"contract": {"document_id": "d1", "path": "/x/y.docx"}},
       "step_ids": {"1111": "contract"}}


def test_variables_resolve_by_label_node_id_and_keep_types():
    config = {"to": "{{trigger.name}}", "count": "{{trigger.n}}", "text": "Hi {{ trigger.name }} #{{trigger.n}}",
              "doc": "{{step.contract.path}}", "by_id": "{{step.1111.document_id}}",
              "first": "{{trigger.items.0.sku}}", "list": ["{{trigger.items}}"]}
    assert resolve(config, RUN) == {"to": "Ana", "count": 3, "text": "Hi Ana #3", "doc": "/x/y.docx",
                                    "by_id": "d1", "first": "A1", "list": [[{"sku": "A1"}]]}


def test_unresolved_variables_are_all_reported():
    config = {"a": "{{trigger.missing}}", "b": ["{{step.nope.x}}", "{{trigger.name}}"]}
    assert unresolved(config, RUN) == ["step.nope.x", "trigger.missing"]
    with pytest.raises(UnresolvedVariables) as error:
        resolve(config, RUN)
    assert error.value.code == "unresolved_variables"


def test_secrets_are_redacted_at_any_depth():
    data = {"url": "u", "secret": "s", "nested": [{"Authorization": "Bearer x", "api_key": "k", "ok": 1}],
            "credentials": {"password": "p"}, "refresh_token": "r"}
    assert redact(data) == {"url": "u", "secret": REDACTED, "nested": [{"Authorization": REDACTED,
                            "api_key": REDACTED, "ok": 1}], "credentials": REDACTED, "refresh_token": REDACTED}


def test_docx_renders_tags_and_refuses_unmapped_ones():
    rendered = render_docx(sample.contract_template(), template_context({"trigger": sample.trigger_data()}))
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(rendered)).paragraphs)
    assert "Acme Corp" in text and "ana@acme.example" in text and "D-1042" in text
    with pytest.raises(InvalidConfig) as error:
        render_docx(sample.contract_template(), template_context({"trigger": {"client_name": "x"}}))
    assert error.value.code == "template.unmapped_tags"


def test_folders_stay_inside_the_tenant_root(tmp_path):
    assert resolve_folder(tmp_path, "org", "a/b") == (tmp_path / "org" / "a" / "b").resolve()
    assert resolve_folder(tmp_path, "org", "/abs") == (tmp_path / "org" / "abs").resolve()
    for escape in ("../other", "a/../../other", "a/../../../etc"):
        with pytest.raises(InvalidConfig):
            resolve_folder(tmp_path, "org", escape)


def test_email_addresses_are_checked():
    assert invalid_emails(["a@b.co", "dev@localhost", "nope", "x@y"]) == ["nope", "x@y"]

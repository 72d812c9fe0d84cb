"""The sample contract template and workflow used by `docg demo` (and tests)."""
import io

import docx


def contract_template():
    """Return a .docx with {{tags}} for a small services contract."""
    document = docx.Document()
    document.add_heading("Services Agreement", level=1)
    document.add_paragraph("This agreement is made between DocG Ltd. and {{ client_name }} "
                           "(“the Client”), represented by {{ contact.name }} <{{ contact.email }}>.")
    document.add_paragraph("Scope: {{ scope }}.")
    document.add_paragraph("Total amount: {{ amount }} {{ currency }}, due in {{ payment_days }} days.")
    document.add_paragraph("Reference: {{ trigger.deal_id }}")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def trigger_data():
    return {
        "deal_id": "D-1042", "client_name": "Acme Corp", "scope": "document automation rollout",
        "amount": "12,500.00", "currency": "USD", "payment_days": 30,
        "contact": {"name": "Ana Souza", "email": "ana@acme.example"},
    }


def workflow(template_id, *, folder, to, webhook_url, webhook_secret):
    """Return the JSON body of the 5-node local workflow."""
    return {
        "name": "Contract for a won deal",
        "description": "webhook → local-docx → storage → email → outgoing-webhook",
        "nodes": [
            {"node_type": "webhook", "label": "deal",
             "config": {"required_fields": ["client_name", "contact.email", "amount"]}},
            {"node_type": "local-docx", "label": "contract",
             "config": {"template_id": template_id, "output_name": "Contract {{trigger.client_name}}"}},
            {"node_type": "storage", "label": "archive", "config": {"folder": folder}},
            {"node_type": "email", "label": "send",
             "config": {"to": to, "subject": "Your contract, {{trigger.contact.name}}",
                        "body": "Hello {{trigger.contact.name}},\n\nYour contract is attached.\n",
                        "attach_documents": True}},
            {"node_type": "outgoing-webhook", "label": "notify",
             "config": {"url": webhook_url, "secret": webhook_secret,
                        "payload": {"deal_id": "{{trigger.deal_id}}", "document": "{{step.archive.path}}",
                                    "message_id": "{{step.send.message_id}}"}}},
        ],
    }


APPROVER = "legal@acme.example"


def demo_workflow(template_id, *, webhook_url, webhook_secret):
    """The demo's workflow: the local one plus an approval and a sandbox signature."""
    body = workflow(template_id, folder="contracts", to=["ana@acme.example"], webhook_url=webhook_url,
                    webhook_secret=webhook_secret)
    deal, contract, archive, send, notify = body["nodes"]
    review = {"node_type": "review-documents", "label": "review",
              "config": {"approvers": [APPROVER], "strategy": "all", "timeout_hours": 48, "reminder_hours": 24,
                         "summary_fields": [{"label": "Client", "path": "client_name"},
                                            {"label": "Amount", "path": "amount"},
                                            {"label": "Deal", "path": "deal_id"}]}}
    sign = {"node_type": "request-signatures", "label": "sign",
            "config": {"provider": "sandbox", "expires_in_days": 7,
                       "signers": [{"name": "{{trigger.contact.name}}", "email": "{{trigger.contact.email}}"}]}}
    body["nodes"] = [deal, contract, archive, review, sign, send, notify]
    body["description"] = "webhook → local-docx → storage → approval → signature → email → outgoing-webhook"
    return body

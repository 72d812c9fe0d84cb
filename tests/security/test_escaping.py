"""One escaping rule per output format: HTML bodies escape values, text and JSON stay readable."""
import json

from integrations.base import load_apps

PARTY = 'Johnson & Johnson <Legal> "Brasil"'
RUN = {"trigger": {"party": PARTY, "amount": 10}, "steps": {}}


def test_an_html_outlook_body_escapes_values_but_not_the_authors_markup():
    config = {"to": ["a@b.example"], "subject": "Contract {{trigger.party}}", "body_type": "HTML",
              "body": "<p>Hello {{trigger.party}}</p>"}

    resolved = load_apps().action("outlook").resolve_config(config, RUN)

    assert resolved["body"] == "<p>Hello Johnson &amp; Johnson &lt;Legal&gt; &quot;Brasil&quot;</p>"
    assert resolved["subject"] == f"Contract {PARTY}"


def test_text_bodies_subjects_and_webhook_payloads_stay_readable():
    email = load_apps().action("email").resolve_config(
        {"to": ["a@b.example"], "subject": "{{trigger.party}}", "body": "Dear {{trigger.party}},"}, RUN)
    outlook = load_apps().action("outlook").resolve_config({"body_type": "Text", "body": "{{trigger.party}}"}, RUN)
    payload = load_apps().action("outgoing-webhook").resolve_config(
        {"url": "http://x.example", "payload": {"party": "{{trigger.party}}", "amount": "{{trigger.amount}}"}}, RUN)

    assert email["subject"] == PARTY and email["body"] == f"Dear {PARTY},"
    assert outlook["body"] == PARTY
    assert json.loads(json.dumps(payload["payload"])) == {"party": PARTY, "amount": 10}

"""The approval and signing pages as an approver and a signer see them, in headless Chromium.

Both locales, at a phone and a desktop width, in a time zone that is not
the server's; the pages are served with their strict Content-Security-Policy
and must log no error. A failing check saves a screenshot (path printed).
"""
import contextlib
import datetime
import os
import shutil
import zoneinfo

import pytest

from cli import sample
from storage import i18n
from tests import factories
from tests.actors.test_approvals import emails
from tests.browser import chromium

pytestmark = pytest.mark.e2e

SIZES = {"phone": (390, 844), "desktop": (1280, 900)}
ZONES = {"en": "Asia/Tokyo", "pt-BR": "America/Sao_Paulo"}
LABELS = {"en": ("Client", "Amount"), "pt-BR": ("Cliente", "Valor")}

APPROVAL = """
const q = (s) => document.querySelector(s);
const all = (s) => [...document.querySelectorAll(s)];
const visible = (n) => !!n && !n.hidden && !n.closest('[hidden]') && n.getClientRects().length > 0;
return {
  lang: document.documentElement.lang, state: q('#page').dataset.state, ask: q('#ask').textContent,
  notice: visible(q('#notice')) ? q('#notice').textContent : '',
  requested: q('#requested').textContent, expires: visible(q('#expires')) ? q('#expires').textContent : '',
  facts: all('#facts dt').map((dt) => [dt.textContent, dt.nextElementSibling.textContent]),
  approvers: visible(q('#approvers-section')) ? all('#approvers li').map((li) => [li.dataset.email,
    li.dataset.status, li.querySelector('.decision').textContent]) : [],
  strategy: visible(q('#strategy')) ? q('#strategy').textContent : '',
  documents: all('#documents .document').filter(visible).map((d) => ({name: d.querySelector('h3').textContent,
    pages: d.querySelectorAll('.pages img').length,
    drawn: [...d.querySelectorAll('.pages img')].every((i) => i.complete && i.naturalWidth > 0),
    download: d.querySelector('a.download').getAttribute('href')})),
  buttons: all('button').filter(visible).map((b) => b.textContent),
  result: visible(q('#result')) ? q('#result').textContent : '',
  overflow: document.documentElement.scrollWidth - window.innerWidth,
};
"""

SIGNING = """
const q = (s) => document.querySelector(s);
const visible = (n) => !!n && !n.hidden && !n.closest('[hidden]') && n.getClientRects().length > 0;
const image = q('#documents .pages img');
return {
  lang: document.documentElement.lang, state: q('#page').dataset.state, ask: q('#ask').textContent,
  notice: visible(q('#notice')) ? q('#notice').textContent : '',
  expires: visible(q('#expires')) ? q('#expires').textContent : '',
  drawn: !!image && visible(image) && image.complete && image.naturalWidth > 0,
  document_first: !!image && !!(image.compareDocumentPosition(q('#sign')) & Node.DOCUMENT_POSITION_FOLLOWING),
  buttons: [...document.querySelectorAll('button')].filter(visible).map((b) => b.textContent),
  overflow: document.documentElement.scrollWidth - window.innerWidth,
};
"""


@pytest.fixture(scope="module")
def browser():
    """`with browser(size, zone) as page`: a headless Chromium at that width, in that time zone.

    NOTE: one Chromium per size and zone for the module, not per use (each
    costs 1-2 s to start and quit, a test looks at up to eight pages, and
    the tests of one locale share their zone); none of the pages keeps state
    in the browser, and what it logged before it is handed out again is
    dropped, as quitting a fresh one dropped it.
    """
    with contextlib.ExitStack() as stack:
        pages = {}

        @contextlib.contextmanager
        def open_browser(size, zone):
            if (size, zone) not in pages:
                width, height = SIZES[size]
                page = stack.enter_context(chromium(width, height))
                if size == "phone":
                    page.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                        "width": width, "height": height, "deviceScaleFactor": 2, "mobile": True})
                page.driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": zone})
                pages[size, zone] = page
            page = pages[size, zone]
            page.open("about:blank")
            page.console_errors()
            yield page

        yield open_browser


@contextlib.contextmanager
def evidence(page, tmp_path, name):
    """Save a screenshot of the page when the checks inside fail (always, with DOCG_KEEP_SCREENSHOTS=1)."""
    try:
        yield
    except BaseException:
        print(f"screenshot of the failing page: {page.screenshot(tmp_path / f'{name}.png')}")
        raise
    if os.environ.get("DOCG_KEEP_SCREENSHOTS") == "1":
        print(f"screenshot: {page.screenshot(tmp_path / f'{name}.png')}")


def opening(key, locale, **parts):
    """The words of a text before its date ("This link expired "), to compare with a page."""
    return i18n.text(key, locale, **parts, when="\x00").split("\x00")[0]


def clock(moment, locale, zone):
    local = moment.astimezone(zoneinfo.ZoneInfo(zone))
    return local.strftime("%H:%M") if locale == "pt-BR" else local.strftime("%I:%M %p")


def people_workflow(client, org, locale, approvers, signers, **review):
    label_client, label_amount = LABELS[locale]
    template_id = factories.template(client, org)
    return factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "local-docx", "label": "contract", "config": {
            "template_id": template_id, "output_name": "Contract {{trigger.client_name}}", "pdf": True}},
        {"node_type": "review-documents", "label": "step 3", "config": {
            "approvers": approvers, "timeout_hours": 24,
            "summary_fields": [{"label": label_client, "path": "client_name"},
                               {"label": label_amount, "value": "{{trigger.currency}} {{trigger.amount}}"}],
            **review}},
        {"node_type": "request-signatures", "label": "sign", "config": {
            "provider": "sandbox", "sequential": True, "signers": [{"name": s.split("+")[0].title(), "email": s}
                                                                    for s in signers]}},
    ], name="Sales contract" if locale == "en" else "Contrato de venda")


def set_locale(client, org, locale):
    assert client.simulate_patch("/api/v1/organization", json={"locale": locale},
                                 headers=org.headers).status_code == 200


def page_errors(page):
    """Errors the page logged (scripts, CSP refusals); a 410 the page reads on purpose is not one."""
    return [m for m in page.console_errors() if "Failed to load resource" not in m or "favicon" in m]


def check_approval(page, tmp_path, name, predicate, message):
    with evidence(page, tmp_path, name):
        shown = page.wait_for(APPROVAL, predicate, message=message)
        assert shown["overflow"] <= 0, f"{name}: the page is wider than the screen"
        assert page_errors(page) == [], f"{name}: the browser logged errors"
        return shown


@pytest.mark.parametrize("locale", ["en", "pt-BR"])
def test_the_approval_and_signing_pages_at_phone_and_desktop_width(client, org, worker, mailbox, web_server,
                                                                  tmp_path, locale, browser):
    if not (shutil.which("soffice") or shutil.which("libreoffice")):
        pytest.skip("LibreOffice (soffice) is needed to render the PDF the pages preview")
    t = lambda key, **parts: i18n.text(key, locale, **parts)  # noqa: E731
    zone = ZONES[locale]
    set_locale(client, org, locale)
    ana, bia = emails(org, "ana"), emails(org, "bia")
    carla, davi = emails(org, "carla"), emails(org, "davi")
    wf = people_workflow(client, org, locale, [ana, bia], [carla, davi], strategy="all")
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "paused", timeout=120)
    mail = mailbox.wait_for(ana)[0]
    link_ana = mail["X-DocG-Approval-Link"]
    link_bia = mailbox.wait_for(bia)[0]["X-DocG-Approval-Link"]
    what = t("mail.what", workflow=wf["name"], subject="Acme Corp")
    assert mail["Subject"] == t("mail.approval_subject", what=what)
    assert "step 3" not in mail.get_content()
    expires = datetime.datetime.fromisoformat(client.simulate_get(
        "/api/v1/approvals/" + link_ana.rsplit("/", 1)[1]).json["expires_at"])
    ask = t("approval.ask", approver=ana, what=f"{wf['name']} — Acme Corp")

    # The pending page, at both widths: what, who, when (reader's zone), facts, the PDF, the buttons
    for size in SIZES:
        with browser(size, zone) as page:
            page.open(link_ana)
            shown = check_approval(page, tmp_path, f"pending-{size}", lambda p: p["state"] == "pending"
                                   and p["documents"] and p["documents"][0]["drawn"], "pending approval page")
            assert shown["lang"] == locale and shown["ask"] == ask
            assert org.id and "org-" in shown["requested"]
            word = t("approval.at")
            assert shown["expires"].endswith(f" {word} {clock(expires, locale, zone)}."), shown["expires"]
            assert shown["facts"] == [[LABELS[locale][0], "Acme Corp"], [LABELS[locale][1], "USD 12,500.00"]]
            assert shown["documents"][0]["name"] == "Contract Acme Corp.pdf" and shown["documents"][0]["pages"] >= 1
            assert [a[:2] for a in shown["approvers"]] == [[ana, "pending"], [bia, "pending"]]
            assert shown["buttons"] == [t("approval.approve"), t("approval.reject")]

    # Strategy all, one decision made: bia sees ana's approval and still has the buttons
    token_ana = link_ana.rsplit("/", 1)[1]
    assert client.simulate_post(f"/api/v1/approvals/{token_ana}/decision",
                                json={"decision": "approved", "comment": "ok"}).status_code == 200
    for size in SIZES:
        with browser(size, zone) as page:
            page.open(link_bia)
            shown = check_approval(page, tmp_path, f"one-decision-{size}", lambda p: p["state"] == "pending"
                                   and len(p["approvers"]) == 2, "strategy all with one decision")
            assert [a[:2] for a in shown["approvers"]] == [[ana, "approved"], [bia, "pending"]]
            assert shown["approvers"][1][2] == t("approval.status_pending")
            assert shown["strategy"] == t("approval.strategy_all")
            assert len(shown["buttons"]) == 2

            # The used link says who decided what and when, with no live button
            page.open(link_ana)
            used = check_approval(page, tmp_path, f"used-{size}", lambda p: p["state"] == "approved",
                                  "used approval link")
            assert used["notice"].startswith(opening("approval.used_approved", locale, who=ana)), used["notice"]
            assert used["buttons"] == [] and used["documents"] == [] and used["expires"] == ""
            assert used["ask"] == t("approval.about", what=f"{wf['name']} — Acme Corp")

    # bia approves in the page (desktop): the run moves on to the signatures
    with browser("desktop", zone) as page:
        page.open(link_bia)
        check_approval(page, tmp_path, "approving", lambda p: len(p["buttons"]) == 2, "bia's buttons")
        page.driver.find_element("id", "approve").click()
        done = check_approval(page, tmp_path, "approved", lambda p: p["result"], "thank-you text")
        assert done["result"] == t("approval.done_approved") and done["buttons"] == []
    factories.wait_for_status(client, org, execution_id, "signing", timeout=60)

    # The sandbox e-mails the first signer only (sequential); the page shows the document before Sign
    invitation = mailbox.wait_for(carla)[0]
    assert invitation["Subject"] == t("mail.sign_subject", name="Contract Acme Corp.pdf")
    assert mailbox.messages(davi) == []
    sign_carla = invitation["X-DocG-Signing-Link"]
    for size in SIZES:
        with browser(size, zone) as page:
            page.open(sign_carla)
            with evidence(page, tmp_path, f"signing-{size}"):
                shown = page.wait_for(SIGNING, lambda p: p["state"] == "open" and p["drawn"], message="signing page")
                assert shown["lang"] == locale and shown["document_first"] and shown["overflow"] <= 0
                assert shown["ask"] == t("sign.ask", signer="Carla", name="Contract Acme Corp.pdf")
                assert shown["buttons"] == [t("sign.sign"), t("sign.decline")]
                assert page_errors(page) == []
                if size == "desktop":
                    page.driver.find_element("id", "sign").click()
                    signed = page.wait_for(SIGNING, lambda p: p["state"] == "signed", message="signed state")
                    assert signed["notice"] == t("sign.state_signed") and signed["buttons"] == []
    sign_davi = mailbox.wait_for(davi)[0]["X-DocG-Signing-Link"]
    with browser("phone", zone) as page:
        page.open(sign_davi)
        with evidence(page, tmp_path, "signing-davi"):
            assert page.wait_for(SIGNING, lambda p: p["state"] == "open", message="davi's turn")["buttons"]
            page.driver.find_element("id", "sign").click()
            page.wait_for(SIGNING, lambda p: p["state"] == "signed", message="davi signed")
    assert factories.wait_for_status(client, org, execution_id, timeout=60)["status"] == "completed"


@pytest.mark.parametrize("locale", ["en", "pt-BR"])
def test_expired_and_withdrawn_links_say_so_with_no_buttons(client, org, worker, mailbox, web_server, tmp_path,
                                                            locale, browser):
    set_locale(client, org, locale)
    template_id = factories.template(client, org)

    def run(approver, **config):
        wf = factories.workflow(client, org, [
            {"node_type": "webhook", "label": "deal"}, factories.render_node(template_id),
            {"node_type": "review-documents", "label": "review", "config": {"approvers": [approver], **config}}])
        execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
        return execution_id, mailbox.wait_for(approver)[0]["X-DocG-Approval-Link"]

    # Given one run whose approval expired and one that was canceled while waiting
    late, gone = emails(org, "late"), emails(org, "gone")
    expired_run, expired_link = run(late, timeout_hours=1 / 3600)
    canceled_run, canceled_link = run(gone)
    factories.wait_for_status(client, org, expired_run, "failed", timeout=60)
    factories.wait_for_status(client, org, canceled_run, "paused")
    assert client.simulate_post(f"/api/v1/executions/{canceled_run}/cancel", json={"reason": "deal lost"},
                                headers=org.headers).status_code == 200

    for size in SIZES:
        with browser(size, ZONES[locale]) as page:
            for name, link, state, key in (("expired", expired_link, "expired", "approval.state_expired"),
                                           ("withdrawn", canceled_link, "withdrawn", "approval.state_withdrawn")):
                page.open(link)
                shown = check_approval(page, tmp_path, f"{name}-{size}", lambda p, s=state: p["state"] == s,
                                       f"{name} link")
                assert shown["notice"].startswith(opening(key, locale)), shown["notice"]
                assert shown["buttons"] == [] and shown["documents"] == []
                assert shown["lang"] == locale

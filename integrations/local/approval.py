"""Human approval nodes: email each approver a single-use link, then wait."""
import datetime
from email.message import EmailMessage

from integrations.base import Action, Result
from integrations.errors import InvalidConfig
from integrations.local.email import as_list, invalid_emails, smtp_send, smtp_unanswered
from integrations.variables import MISSING, lookup
from storage import approval_view, approvals, documents, i18n
from storage.models import Execution

MAX_FACTS = 12


def approval_message(settings, approval, token, *, summary=None, reminder=False):
    """The e-mail asking one approver: what is to be approved in words, by whom, and the link.

    Written in the organization's locale; "what" is the workflow's name and
    the first summary fact (e.g. the client), not the step's label.
    """
    view = approval_view.describe(approval, summary)
    locale = view["locale"]
    what = view["workflow"]["name"]
    if view["subject"]:
        what = i18n.text("mail.what", locale, workflow=what, subject=view["subject"])
    link = f"{settings.public_base_url.rstrip('/')}/approvals/{token}"
    docs = documents.for_execution(approval.execution_id)
    names = "\n".join(f"  - {d.name}" for d in docs) or i18n.text("mail.no_documents", locale)
    lines = "\n".join(f"  {f['label']}: {f['value']}" for f in view["summary"])
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = approval.approver_email
    message["Subject"] = i18n.text("mail.approval_reminder_subject" if reminder else "mail.approval_subject",
                                   locale, what=what)
    message.set_content(i18n.text(
        "mail.approval_body", locale, requester=view["requested_by"], what=what, documents=names, link=link,
        facts=i18n.text("mail.facts", locale, lines=lines) if lines else "",
        expires=i18n.mail_date(approval.expires_at, locale)))
    message["X-DocG-Approval-Link"] = link
    message["Content-Language"] = locale  # after set_content, which drops Content-* headers
    return message


def _humanize(path):
    words = str(path).rsplit(".", 1)[-1].replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]


def summary_of(fields, run):
    """The key facts an approver is shown: [{label, value}] from `summary_fields`.

    Each entry is a trigger path ("client_name", "deal.amount") or
    {"label", "path"} or {"label", "value"} (a value may use {{variables}},
    resolved before the step runs). Empty values are left out.
    """
    if fields in (None, ""):
        return []
    if not isinstance(fields, list):
        raise InvalidConfig("summary_fields must be a list of fields.", f"summary_fields={fields!r:.100}")
    facts = []
    for item in fields[:MAX_FACTS]:
        if isinstance(item, str):
            label, value = _humanize(item), lookup(run, f"trigger.{item}")
        elif isinstance(item, dict) and ("path" in item or "value" in item):
            label = item.get("label") or _humanize(item.get("path", ""))
            value = item["value"] if "value" in item else lookup(run, f"trigger.{item['path']}")
        else:
            raise InvalidConfig("Each summary field is a trigger path or {label, path} or {label, value}.",
                                f"summary field {item!r:.100}")
        if value is MISSING or value in (None, "") or isinstance(value, (dict, list)):
            continue
        facts.append({"label": str(label)[:100], "value": str(value)[:300]})
    return facts


def wait_config(config):
    """Validate and normalise the approval config; return a dict."""
    approvers = as_list(config.get("approvers"))
    if not approvers:
        raise InvalidConfig("Add at least one approver.", "approvers is empty", code="approval.no_approvers")
    bad = invalid_emails(approvers)
    if bad:
        raise InvalidConfig(f"Invalid approver email: {', '.join(bad)}.", f"invalid: {bad}",
                            code="delivery.invalid_email")
    strategy = config.get("strategy", "all")
    if strategy not in approvals.STRATEGIES:
        raise InvalidConfig("Strategy must be all, any or quorum.", f"strategy={strategy!r}")
    quorum = config.get("quorum")
    if strategy == "quorum" and not (isinstance(quorum, int) and 1 <= quorum <= len(approvers)):
        raise InvalidConfig("Quorum must be between 1 and the number of approvers.", f"quorum={quorum!r}")
    on_timeout = config.get("on_timeout", "approve" if config.get("auto_approve_on_timeout") else "fail")
    if on_timeout not in ("fail", "approve"):
        raise InvalidConfig("on_timeout must be fail or approve.", f"on_timeout={on_timeout!r}")
    try:
        hours = float(config.get("timeout_hours", 72))
        reminder = float(config["reminder_hours"]) if config.get("reminder_hours") is not None else None
    except (TypeError, ValueError) as ex:
        raise InvalidConfig("timeout_hours and reminder_hours must be numbers.", str(ex)) from ex
    if hours <= 0:
        raise InvalidConfig("timeout_hours must be positive.", f"timeout_hours={hours}")
    return {"approvers": list(dict.fromkeys(approvers)), "strategy": strategy,
            "quorum": quorum if strategy == "quorum" else None, "timeout_hours": hours,
            "on_timeout": on_timeout, "reminder_hours": reminder}


class ReviewDocuments(Action):
    """Ask people to approve the run's documents; the run waits for them."""

    key = "review-documents"
    name = "Review documents"
    phase = "approval"
    fields = {"approvers": {"type": "array"}, "strategy": {"enum": ["all", "any", "quorum"]},
              "quorum": {"type": "integer"}, "timeout_hours": {"type": "number"},
              "on_timeout": {"enum": ["fail", "approve"]}, "reminder_hours": {"type": "number"},
              "summary_fields": {"type": "array"}}

    def run(self, ctx):
        config = wait_config(ctx.config)
        execution = Execution.get_by_id(ctx.execution_id)
        expires_at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=config["timeout_hours"])
        summary = summary_of(ctx.config.get("summary_fields"), ctx.run)
        for email in config["approvers"]:
            ctx.once(f"approval_email:{email}", lambda key, email=email: self._ask(ctx, execution, email, config,
                                                                                 expires_at, summary))
        wait = {"kind": "approval", "pending": config["approvers"], "strategy": config["strategy"],
                "quorum": config["quorum"], "expires_at": expires_at.isoformat(), "on_timeout": config["on_timeout"]}
        return Result(output={"approvers": config["approvers"], "strategy": config["strategy"],
                              "expires_at": expires_at.isoformat(), "summary": summary}, wait=wait)

    def check(self, config, ctx, node_id):
        wait_config(config)
        summary_of(config.get("summary_fields"), {})
        return smtp_unanswered(ctx.settings, node_id)

    def _ask(self, ctx, execution, email, config, expires_at, summary):
        approval, token = approvals.issue(
            execution, ctx.node_id, email, strategy=config["strategy"], quorum=config["quorum"],
            expires_at=expires_at, auto_approve=config["on_timeout"] == "approve",
            reminder_hours=config["reminder_hours"])
        if token is not None:
            smtp_send(ctx.settings.smtp_url, approval_message(ctx.settings, approval, token, summary=summary))
        return {"approval_id": str(approval.id), "approver": email}


class HumanInLoop(ReviewDocuments):
    key = "human-in-loop"
    name = "Human in the loop"

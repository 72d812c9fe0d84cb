"""Human approval nodes: email each approver a single-use link, then wait."""
import datetime
from email.message import EmailMessage

from integrations.base import Action, Result
from integrations.errors import InvalidConfig
from integrations.local.email import as_list, invalid_emails, smtp_send, smtp_unanswered
from storage import approvals, documents
from storage.models import Execution


def approval_message(settings, *, to, token, execution_id, label, docs, reminder=False):
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = f"{'Reminder: ' if reminder else ''}Approval requested: {label}"
    link = f"{settings.public_base_url.rstrip('/')}/approvals/{token}"
    names = "\n".join(f"  - {d.name}" for d in docs) or "  (no documents)"
    message.set_content(f"You are asked to review and approve “{label}”.\n\nDocuments:\n{names}\n\n"
                        f"Approve or reject here: {link}\n\nRun {execution_id}.\n")
    message["X-DocG-Approval-Link"] = link
    return message


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
              "on_timeout": {"enum": ["fail", "approve"]}, "reminder_hours": {"type": "number"}}

    def run(self, ctx):
        config = wait_config(ctx.config)
        execution = Execution.get_by_id(ctx.execution_id)
        expires_at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=config["timeout_hours"])
        docs = documents.for_execution(ctx.execution_id)
        for email in config["approvers"]:
            ctx.once(f"approval_email:{email}", lambda key, email=email: self._ask(ctx, execution, email, config,
                                                                                 expires_at, docs))
        wait = {"kind": "approval", "pending": config["approvers"], "strategy": config["strategy"],
                "quorum": config["quorum"], "expires_at": expires_at.isoformat(), "on_timeout": config["on_timeout"]}
        return Result(output={"approvers": config["approvers"], "strategy": config["strategy"],
                              "expires_at": expires_at.isoformat()}, wait=wait)

    def check(self, config, ctx, node_id):
        wait_config(config)
        return smtp_unanswered(ctx.settings, node_id)

    def _ask(self, ctx, execution, email, config, expires_at, docs):
        approval, token = approvals.issue(
            execution, ctx.node_id, email, strategy=config["strategy"], quorum=config["quorum"],
            expires_at=expires_at, auto_approve=config["on_timeout"] == "approve",
            reminder_hours=config["reminder_hours"])
        if token is not None:
            smtp_send(ctx.settings.smtp_url, approval_message(ctx.settings, to=email, token=token,
                                                              execution_id=ctx.execution_id, label=ctx.label,
                                                              docs=docs))
        return {"approval_id": str(approval.id), "approver": email}


class HumanInLoop(ReviewDocuments):
    key = "human-in-loop"
    name = "Human in the loop"

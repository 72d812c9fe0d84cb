"""Texts of a run's log rows (seed F5), en and pt-BR, keyed by message key.

A row stores its key and params with the English text rendered at write
time (`message_human`), so the English answer is the stored text and a
row written before keys existed is still served. `{parts}` are the row's
params: step labels and cancel reasons are the tenant's own words and stay
as written; `{error}` is an error's `message_human` and is translated
through the error catalogue by its `error_code` param; a param whose value
is one of TERMS (a wait's reason, an unknown amount) is translated too.
"""


def _t(en, pt):
    return {"en": en, "pt-BR": pt}


LOGS = {
    # Steps (storage/steps.py, storage/reviews.py)
    "step.started": _t("Started “{label}”.", "Etapa “{label}” iniciada."),
    "step.retrying": _t("“{label}” failed and will be retried.", "A etapa “{label}” falhou e será tentada de novo."),
    "step.completed": _t("“{label}” completed.", "Etapa “{label}” concluída."),
    "step.failed": _t("“{label}” failed: {error}", "A etapa “{label}” falhou: {error}"),
    "step.needs_review": _t("“{label}” needs review: {error}", "A etapa “{label}” precisa de revisão: {error}"),
    # The run (storage/steps.py, actors/control.py)
    "run.failed": _t("The run failed: {error}", "A execução falhou: {error}"),
    "run.canceled": _t("Run canceled.", "Execução cancelada."),
    "run.canceled_because": _t("Run canceled: {given_reason}.", "Execução cancelada: {given_reason}."),
    # Approval and signature waits (storage/waits.py)
    "wait.started": _t("Waiting at “{label}”.", "Aguardando em “{label}”."),
    "wait.done": _t("“{label}” done: {reason}.", "Etapa “{label}” concluída: {reason}."),
    # Preflight (storage/preflights.py): an issue's own text, translated by its code
    "preflight.issue": _t("{error}", "{error}"),
    "preflight.clean": _t("Preflight found nothing to fix.", "A verificação prévia não encontrou nada a corrigir."),
    # Signed documents and envelopes (actors/signed.py, actors/waits.py)
    "signature.documents_retrying": _t(
        "The signed document is not downloadable yet; DocG will try again.",
        "O documento assinado ainda não pode ser baixado; o DocG tentará de novo."),
    "signature.documents_stored": _t(
        "The signed document and its audit trail are stored with the run.",
        "O documento assinado e sua trilha de auditoria estão guardados com a execução."),
    "signature.documents_unavailable": _t(
        "The signed document could not be downloaded; the run goes on with the original. "
        "Download it from the provider.",
        "Não foi possível baixar o documento assinado; a execução segue com o original. Baixe-o no provedor."),
    "signature.withdraw_failed": _t("Could not withdraw the envelope at the provider.",
                                    "Não foi possível retirar o envelope no provedor."),
    "signature.withdrawn": _t("The envelope was withdrawn at the provider.", "O envelope foi retirado no provedor."),
    # Stripe payments (integrations/stripe/payments.py)
    "payment.completed": _t("Checkout completed at Stripe: {amount} ({payment_status}).",
                            "Checkout concluído no Stripe: {amount} ({payment_status})."),
    "payment.succeeded": _t("Stripe confirmed the delayed payment: {amount}.",
                            "O Stripe confirmou o pagamento pendente: {amount}."),
    "payment.failed": _t("Stripe reported that the delayed payment failed: {amount}.",
                         "O Stripe informou que o pagamento pendente falhou: {amount}."),
    "payment.expired": _t("The Stripe checkout expired without payment.",
                          "O checkout do Stripe expirou sem pagamento."),
}

#: param -> English value -> its texts: wait.done's reasons (actors/waits.py), Stripe's unknown amount
TERMS = {
    "reason": {
        "approved": _t("approved", "aprovada"),
        "approved on timeout": _t("approved on timeout", "aprovada por prazo esgotado"),
        "all signers signed": _t("all signers signed", "todos os signatários assinaram"),
    },
    "amount": {"amount unknown": _t("amount unknown", "valor desconhecido")},
}

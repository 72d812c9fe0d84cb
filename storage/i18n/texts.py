"""Words of the approval and signing pages and of their e-mails, en and pt-BR.

Keys are `page.name`; `{parts}` are filled by the page's script or the
mailer. `approval.*` and `sign.*` go to the pages whole (i18n.bundle), so a
page needs no text of its own.
"""


def _t(en, pt):
    return {"en": en, "pt-BR": pt}


TEXTS = {
    # Approval page
    "approval.title": _t("Approval requested", "Aprovação solicitada"),
    "approval.loading": _t("Loading…", "Carregando…"),
    "approval.ask": _t("{approver}, please review and approve {what}.", "{approver}, revise e aprove {what}."),
    "approval.about": _t("About: {what}.", "Sobre: {what}."),
    "approval.requested": _t("Requested by {who} {when}.", "Solicitado por {who} {when}."),
    "approval.expires": _t("This link expires {when}.", "Este link expira {when}."),
    "approval.facts": _t("Key facts", "Dados principais"),
    "approval.documents": _t("Documents", "Documentos"),
    "approval.no_documents": _t("There are no documents in this request.", "Não há documentos neste pedido."),
    "approval.download": _t("Download {name}", "Baixar {name}"),
    "approval.page_alt": _t("Page {n} of {name}", "Página {n} de {name}"),
    "approval.more_pages": _t("Only the first {n} pages are shown; download the file to read it all.",
                              "Só as primeiras {n} páginas aparecem; baixe o arquivo para ler tudo."),
    "approval.approvers": _t("Approvers", "Aprovadores"),
    "approval.strategy_all": _t("Everyone listed must approve.", "Todos os listados precisam aprovar."),
    "approval.strategy_any": _t("One approval is enough.", "Uma aprovação basta."),
    "approval.strategy_quorum": _t("{n} approvals are needed.", "São necessárias {n} aprovações."),
    "approval.you": _t("you", "você"),
    "approval.status_pending": _t("has not decided yet", "ainda não decidiu"),
    "approval.status_approved": _t("approved {when}", "aprovou {when}"),
    "approval.status_rejected": _t("rejected {when}", "rejeitou {when}"),
    "approval.status_expired": _t("did not decide in time", "não decidiu a tempo"),
    "approval.status_revoked": _t("no longer asked", "não precisa mais decidir"),
    "approval.comment": _t("Comment (optional)", "Comentário (opcional)"),
    "approval.approve": _t("Approve", "Aprovar"),
    "approval.reject": _t("Reject", "Rejeitar"),
    "approval.done_approved": _t("Thank you: you approved it.", "Obrigado: você aprovou."),
    "approval.done_rejected": _t("Thank you: you rejected it.", "Obrigado: você rejeitou."),
    "approval.used_approved": _t("This link was already used: {who} approved it {when}.",
                                 "Este link já foi usado: {who} aprovou {when}."),
    "approval.used_rejected": _t("This link was already used: {who} rejected it {when}.",
                                 "Este link já foi usado: {who} rejeitou {when}."),
    "approval.state_expired": _t("This link expired {when}; it can no longer be used.",
                                 "Este link expirou {when}; não pode mais ser usado."),
    "approval.state_withdrawn": _t("This request was withdrawn {when}; there is nothing to decide.",
                                   "Este pedido foi retirado {when}; não há nada a decidir."),
    "approval.state_closed": _t("Your decision is no longer needed: the step was settled {when}.",
                                "Sua decisão não é mais necessária: a etapa foi resolvida {when}."),
    "approval.not_found": _t("This approval link does not exist. Check that you opened the whole link from the "
                             "e-mail.", "Este link de aprovação não existe. Confira se abriu o link inteiro do e-mail."),
    "approval.failed": _t("Something went wrong; reload the page and try again.",
                          "Algo deu errado; recarregue a página e tente de novo."),
    # Dates, shared by the pages' script
    "approval.at": _t("at", "às"),
    "approval.on": _t("on", "em"),
    "sign.at": _t("at", "às"),
    "sign.on": _t("on", "em"),
    # Sandbox signing page
    "sign.title": _t("Signature requested", "Assinatura solicitada"),
    "sign.loading": _t("Loading…", "Carregando…"),
    "sign.ask": _t("{signer}, please read “{name}” below, then sign it.", "{signer}, leia “{name}” abaixo e assine."),
    "sign.sandbox": _t("DocG signature sandbox: a test provider, not a legal signature.",
                       "Sandbox de assinatura do DocG: um provedor de teste, sem valor legal."),
    "sign.expires": _t("This request expires {when}.", "Este pedido vence {when}."),
    "sign.document": _t("Document", "Documento"),
    "sign.download": _t("Download {name}", "Baixar {name}"),
    "sign.page_alt": _t("Page {n} of {name}", "Página {n} de {name}"),
    "sign.sign": _t("Sign", "Assinar"),
    "sign.decline": _t("Decline", "Recusar"),
    "sign.state_signed": _t("You signed this document. Thank you.", "Você assinou este documento. Obrigado."),
    "sign.state_declined": _t("You declined to sign this document.", "Você recusou-se a assinar este documento."),
    "sign.state_waiting": _t("It is not your turn yet: you will get an e-mail once the signers before you have "
                             "signed.", "Ainda não é a sua vez: você receberá um e-mail quando os signatários "
                                        "anteriores assinarem."),
    "sign.state_withdrawn": _t("This signature request was withdrawn; there is nothing to sign.",
                               "Este pedido de assinatura foi retirado; não há nada para assinar."),
    "sign.state_closed": _t("This document can no longer be signed.", "Este documento não pode mais ser assinado."),
    "sign.not_found": _t("This signing link does not exist.", "Este link de assinatura não existe."),
    "sign.failed": _t("Something went wrong; reload the page and try again.",
                      "Algo deu errado; recarregue a página e tente de novo."),
    # E-mails
    "mail.date": _t("MMMM d, y 'at' HH:mm 'UTC'", "d 'de' MMMM 'de' y 'às' HH:mm 'UTC'"),
    "mail.what": _t("{workflow} for {subject}", "{workflow} de {subject}"),
    "mail.approval_subject": _t("Approval requested: {what}", "Aprovação solicitada: {what}"),
    "mail.approval_reminder_subject": _t("Reminder: approval requested: {what}",
                                         "Lembrete: aprovação solicitada: {what}"),
    "mail.approval_body": _t(
        "Hello,\n\n{requester} asks you to approve {what}.\n\n{facts}Documents:\n{documents}\n\n"
        "Read the documents and decide here:\n{link}\n\nThis link is yours alone; it expires on {expires}.\n",
        "Olá,\n\n{requester} pede a sua aprovação para {what}.\n\n{facts}Documentos:\n{documents}\n\n"
        "Leia os documentos e decida aqui:\n{link}\n\nEste link é só seu; ele expira em {expires}.\n"),
    "mail.facts": _t("Key facts:\n{lines}\n\n", "Dados principais:\n{lines}\n\n"),
    "mail.no_documents": _t("  (no documents)", "  (nenhum documento)"),
    "mail.sign_subject": _t("Please sign: {name}", "Assinatura solicitada: {name}"),
    "mail.sign_reminder_subject": _t("Reminder: please sign {name}", "Lembrete: assine {name}"),
    "mail.sign_body": _t(
        "Hello {signer},\n\n{sender} asks you to sign “{name}”.\n\nRead and sign it here:\n{link}\n\n"
        "The request expires on {expires}.\n",
        "Olá {signer},\n\n{sender} pede que você assine “{name}”.\n\nLeia e assine aqui:\n{link}\n\n"
        "O pedido expira em {expires}.\n"),
}

"""pt-BR texts of API errors and recommended actions, keyed by code.

ERRORS[code] maps the English `message_human` (a template when it has
`{parts}`) to its pt-BR text; ERRORS["*"] holds texts any code may carry.
ACTIONS[issue_code] is the pt-BR (label, description) of the action that
storage/recommendations.py offers in English for that issue code.
"""

ERRORS = {
    "*": {
        "The request is not valid.": "A requisição não é válida.",
        "Not found.": "Não encontrado.",
        "Something went wrong.": "Algo deu errado.",
        "The step could not be completed.": "A etapa não pôde ser concluída.",
        "The step is not configured correctly.": "A etapa não está configurada corretamente.",
        "Document not found.": "Documento não encontrado.",
    },
    "unauthorized": {
        "Authentication is required.": "É preciso autenticar-se.",
        "The stream link expired; reload the page.": "O link de acompanhamento expirou; recarregue a página.",
        "Send your API token as 'Authorization: Bearer <token>'.":
            "Envie seu token de API como 'Authorization: Bearer <token>'.",
        "Send your organization id in X-Organization-ID.": "Envie o id da sua organização em X-Organization-ID.",
        "The API token is invalid or revoked.": "O token de API é inválido ou foi revogado.",
        "The webhook signature is not valid.": "A assinatura do webhook não é válida.",
    },
    "forbidden": {
        "You may not do that.": "Você não tem permissão para isso.",
        "This token does not belong to that organization.": "Este token não pertence a essa organização.",
    },
    "not_found": {
        "This approval link does not exist.": "Este link de aprovação não existe.",
        "No such signing link.": "Este link de assinatura não existe.",
        "Workflow not found.": "Fluxo não encontrado.",
        "Execution not found.": "Execução não encontrada.",
        "Connection not found.": "Conexão não encontrada.",
        "Template not found.": "Modelo não encontrado.",
        "Unknown signature provider.": "Provedor de assinatura desconhecido.",
        "No such dynamic data provider.": "Não há esse provedor de dados dinâmicos.",
        "There is no provider {key} to connect to.": "Não há provedor {key} para conectar.",
        "404 Not Found": "404 Não encontrado",
        "No such file.": "Arquivo inexistente.",
    },
    "gone": {"This link is no longer valid.": "Este link não é mais válido."},
    "route_not_found": {
        "{method} {path} does not exist: the API lives under {api}. Did you mean {method} {api}{path}?":
            "{method} {path} não existe: a API fica em {api}. Você quis dizer {method} {api}{path}?",
        "{method} {path} does not exist. The API lives under {api}/ (for example {api}/workflows) and its "
        "endpoints are listed in the README's API section; people's pages are /approvals/{token} and /runs/{id}; "
        "operators' are /ops/dramatiq/, /ops/mail and /metrics.":
            "{method} {path} não existe. A API fica em {api}/ (por exemplo {api}/workflows) e seus endpoints "
            "estão na seção API do README; as páginas para pessoas são /approvals/{token} e /runs/{id}; as de "
            "operação são /ops/dramatiq/, /ops/mail e /metrics.",
    },
    "approval.link_used": {
        "This link was already used: {who} approved it at {when}.":
            "Este link já foi usado: {who} aprovou em {when}.",
        "This link was already used: {who} rejected it at {when}.":
            "Este link já foi usado: {who} rejeitou em {when}.",
        "This approval link expired at {when}.": "Este link de aprovação expirou em {when}.",
        "This approval request was withdrawn at {when}.": "Este pedido de aprovação foi retirado em {when}.",
        "This approval is no longer needed: the step was decided at {when}.":
            "Esta aprovação não é mais necessária: a etapa foi decidida em {when}.",
        "This approval link can no longer be used ({status}).": "Este link de aprovação não pode mais ser usado ({status}).",
    },
    "signature.link_used": {"This signing link was already used.": "Este link de assinatura já foi usado.",
                            "This signing link can no longer be used.": "Este link de assinatura não pode mais ser usado."},
    "payload_too_large": {
        "The request body is too large.": "O corpo da requisição é grande demais.",
        "The body must be at most {size} KiB.": "O corpo deve ter no máximo {size} KiB.",
    },
    "invalid_fields": {
        "Some fields are invalid.": "Alguns campos são inválidos.",
        "Invalid field {field}: {problem}": "Campo inválido {field}: {problem}",
        "step_id must be a step id.": "step_id deve ser o id de uma etapa.",
        "{name} must be one of {allowed}.": "{name} deve ser um destes: {allowed}.",
        "Unknown step type: {types}.": "Tipo de etapa desconhecido: {types}.",
        "Step names must be unique: {names}.": "Os nomes das etapas devem ser únicos: {names}.",
        "The content is not valid base64.": "O conteúdo não é base64 válido.",
        "The template file is empty.": "O arquivo do modelo está vazio.",
        "The body must be a JSON object.": "O corpo deve ser um objeto JSON.",
        "This workflow is not active.": "Este fluxo não está ativo.",
    },
    "malformed_json": {
        "The request needs a JSON body.": "A requisição precisa de um corpo JSON.",
        "The body is nested too deeply.": "O corpo tem aninhamento profundo demais.",
        "The body is not valid JSON.": "O corpo não é um JSON válido.",
        "The body is nested more than {depth} levels deep.": "O corpo tem mais de {depth} níveis de aninhamento.",
    },
    "invalid_text": {"Text may not contain the NUL character (\\u0000).":
                     "O texto não pode conter o caractere NUL (\\u0000)."},
    "idempotency.invalid_key": {"Idempotency-Key must be 1 to {n} characters.":
                                "Idempotency-Key deve ter de 1 a {n} caracteres."},
    "invalid_cursor": {"The cursor is not valid; start again without it.":
                       "O cursor não é válido; comece de novo sem ele."},
    "invalid_transition": {"The run cannot do that in its current state.":
                           "A execução não pode fazer isso no estado atual.",
                           "The run is {current} and cannot become {target}.":
                           "A execução está {current} e não pode passar a {target}."},
    "conflict": {"That conflicts with the current state.": "Isso conflita com o estado atual.",
                 "This Idempotency-Key was already used for a different request.":
                 "Esta Idempotency-Key já foi usada em outra requisição.",
                 "A workflow needs at least one step before it can be activated.":
                 "Um fluxo precisa de ao menos uma etapa para ser ativado."},
    "too_many_streams": {"Too many live streams are open on this server right now; try again shortly.":
                         "Há transmissões ao vivo demais abertas neste servidor agora; tente de novo em instantes."},
    "service_unavailable": {"DocG cannot reach its database or queue right now. Retry in a few seconds.":
                            "O DocG não alcança seu banco de dados ou fila agora. Tente de novo em alguns segundos."},
    "internal_error": {"Something went wrong on our side.": "Algo deu errado do nosso lado."},
    "invalid_value": {"A value in the request cannot be stored.": "Um valor da requisição não pode ser armazenado."},
    "webhook.malformed": {"The webhook body is not understood.": "O corpo do webhook não foi entendido."},
    "invalid_locale": {"locale must be one of {locales}.": "locale deve ser um destes: {locales}."},
    "approval.no_approvers": {"Add at least one approver.": "Adicione ao menos um aprovador."},
    "delivery.invalid_email": {"Invalid approver email: {emails}.": "E-mail de aprovador inválido: {emails}.",
                               "Invalid email address: {emails}.": "Endereço de e-mail inválido: {emails}."},
    "delivery.no_recipient": {"Add at least one recipient.": "Adicione ao menos um destinatário."},
    "invalid_config": {
        "Strategy must be all, any or quorum.": "A estratégia deve ser all, any ou quorum.",
        "Quorum must be between 1 and the number of approvers.": "O quórum deve ficar entre 1 e o número de aprovadores.",
        "on_timeout must be fail or approve.": "on_timeout deve ser fail ou approve.",
        "timeout_hours and reminder_hours must be numbers.": "timeout_hours e reminder_hours devem ser números.",
        "timeout_hours must be positive.": "timeout_hours deve ser positivo.",
        "Step type {type} is not available.": "O tipo de etapa {type} não está disponível.",
        "No email server is configured.": "Nenhum servidor de e-mail está configurado.",
        "The webhook URL must be an http(s) address.": "A URL do webhook deve ser um endereço http(s).",
    },
    "signature.no_signers": {"Add at least one signer.": "Adicione ao menos um signatário."},
    "signature.invalid_signer": {"Each signer needs a name and an email.": "Cada signatário precisa de nome e e-mail.",
                                 "Invalid signer email: {emails}.": "E-mail de signatário inválido: {emails}."},
    "signature.no_document": {"There is no document to sign; add a render step before this one.":
                              "Não há documento para assinar; adicione antes uma etapa que gere o documento."},
    "signature.unknown_provider": {"Unknown signature provider {name}.": "Provedor de assinatura desconhecido {name}."},
    "signature.no_connection": {"Connect a {name} account first.": "Conecte primeiro uma conta {name}."},
    "connection_error": {"Connect a {name} account first.": "Conecte primeiro uma conta {name}.",
                         "The signature connection no longer exists.": "A conexão de assinatura não existe mais.",
                         "The service could not be reached; the step will be retried.":
                         "O serviço não pôde ser alcançado; a etapa será tentada de novo."},
    "oauth_expired": {"The signature connection must be reconnected.": "A conexão de assinatura precisa ser refeita.",
                      "The connection expired; reconnect the account.": "A conexão expirou; conecte a conta de novo."},
    "signature.webhook_unverifiable": {"{name} webhooks cannot be verified: set the connection's webhook secret.":
                                       "Os webhooks de {name} não podem ser verificados: defina o segredo de webhook "
                                       "da conexão."},
    "signature.declined": {"{who} declined to sign.": "{who} recusou-se a assinar."},
    "signature.expired": {"The signature request expired before everyone signed.":
                          "O pedido de assinatura expirou antes que todos assinassem."},
    "approval.rejected": {"Rejected by {who}.": "Rejeitado por {who}."},
    "approval.expired": {"Nobody approved before the deadline.": "Ninguém aprovou antes do prazo."},
    "unresolved_variables": {"These variables have no value: {names}.": "Estas variáveis não têm valor: {names}.",
                             "Some variables could not be resolved.": "Algumas variáveis não puderam ser resolvidas."},
    "template.unmapped_tags": {"The template uses tags with no value: {tags}.":
                               "O modelo usa marcadores sem valor: {tags}."},
    "missing_required_field": {"Required fields are empty.": "Há campos obrigatórios vazios."},
    "template.not_found": {"The template does not exist or was deleted.": "O modelo não existe ou foi excluído."},
    "permission_denied": {"The account has no permission for this resource.":
                          "A conta não tem permissão para este recurso."},
    "rate_limit": {"The provider is limiting requests; the step will be retried.":
                   "O provedor está limitando as requisições; a etapa será tentada de novo."},
    "timeout": {"The service took too long to answer; the step will be retried.":
                "O serviço demorou demais para responder; a etapa será tentada de novo."},
    "bad_response": {"The service answered with an error.": "O serviço respondeu com um erro."},
}

ACTIONS = {
    "drive.insufficient_permissions": ("Corrigir permissões", "Conceda acesso de leitura ao arquivo."),
    "permission_denied": ("Corrigir permissões", "Conceda acesso à conta conectada."),
    "drive.folder_not_found": ("Escolher pasta", "A pasta de destino não existe mais."),
    "drive.file_not_found": ("Verificar arquivo", "O arquivo do Drive não existe mais ou não está compartilhado."),
    "drive.item_not_found": ("Verificar arquivo", "O arquivo gerado não está mais no OneDrive."),
    "drive.no_file": ("Adicionar etapa de salvar", "Nada foi salvo antes nesta execução para compartilhar; salve o "
                                                   "documento primeiro ou indique o arquivo a compartilhar."),
    "storage.invalid_folder": ("Escolher pasta", "Escolha uma pasta dentro da sua área de armazenamento."),
    "unresolved_variables": ("Mapear campos", "Algumas variáveis não puderam ser resolvidas."),
    "template.unmapped_tags": ("Mapear campos", "O modelo usa marcadores sem valor."),
    "missing_required_field": ("Preencher campos obrigatórios", "Há campos obrigatórios vazios."),
    "template.not_found": ("Escolher modelo", "O modelo não existe mais."),
    "hubspot.object_not_found": ("Verificar ID do registro",
                                 "O registro do HubSpot não foi encontrado; verifique o ID usado pela etapa."),
    "ai.model_not_found": ("Escolher modelo de IA", "O modelo de IA não está disponível para esta conta."),
    "ai.quota_exceeded": ("Verificar plano", "A conta de IA não tem mais crédito ou cota."),
    "storage.insufficient_permissions": ("Corrigir permissões",
                                         "Dê às chaves de armazenamento permissão de escrita no bucket."),
    "storage.bucket_not_found": ("Escolher pasta", "O bucket não existe."),
    "stripe.invalid_request": ("Editar etapa", "O Stripe recusou um campo desta etapa."),
    "drive.name_conflict": ("Escolher pasta", "Já existe um arquivo com esse nome lá."),
    "forms.form_not_found": ("Escolher formulário",
                             "O formulário não existe mais ou não está compartilhado com a conta."),
    "delivery.invalid_email": ("Corrigir destinatários", "Um endereço de e-mail é inválido."),
    "delivery.no_recipient": ("Adicionar destinatários", "O e-mail não tem destinatário."),
    "oauth_expired": ("Reconectar", "A conexão expirou."),
    "oauth.missing_scope": ("Reconectar", "Entre de novo para conceder a permissão de que esta etapa precisa."),
    "connection_error": ("Verificar conexão", "O serviço não pôde ser alcançado."),
    "rate_limit": ("Tentar de novo", "O provedor limitou as requisições."),
    "timeout": ("Tentar de novo", "O serviço demorou demais para responder."),
    "internal_error": ("Tentar de novo", "Um erro inesperado interrompeu a etapa."),
}

ERRORS["invalid_config"].update({
    "sequential must be true or false.": "sequential deve ser true ou false.",
    "reminder_hours must be a number of hours between 0 and 1440.":
        "reminder_hours deve ser um número de horas entre 0 e 1440.",
    "summary_fields must be a list of fields.": "summary_fields deve ser uma lista de campos.",
    "Each summary field is a trigger path or {label, path} or {label, value}.":
        "Cada campo de resumo é um caminho do gatilho, {label, path} ou {label, value}.",
})
ERRORS["document.no_preview"] = {"This page cannot be shown.": "Esta página não pode ser mostrada."}
ERRORS["signature.not_your_turn"] = {
    "It is not your turn to sign yet: the signers before you have not signed.":
        "Ainda não é a sua vez de assinar: os signatários anteriores não assinaram."}

ACTIONS.update({
    "template.invalid": ("Corrigir modelo", "Envie um modelo corrigido (PUT /templates/{id}) e retome a execução."),
    "template.render_error": ("Corrigir modelo", "Um marcador do modelo falha com estes dados; corrija o modelo ou os "
                                                 "dados e retome a execução."),
    "template.unsafe": ("Corrigir modelo", "Remova o que o modelo não pode fazer e retome a execução."),
    "template.too_large": ("Corrigir modelo", "Faça o modelo gerar um documento menor e retome a execução."),
    "template.timeout": ("Corrigir modelo", "Simplifique os laços do modelo e retome a execução."),
    "render.pdf_unavailable": ("Instalar o LibreOffice", "A saída em PDF precisa do LibreOffice nos workers "
                                                         "(make office)."),
    "render.pdf_failed": ("Tentar de novo", "A conversão para PDF falhou."),
    "signature.documents_unavailable": ("Baixar de novo", "O documento assinado não pôde ser obtido do provedor."),
})

ERRORS["template.invalid"] = {
    "The template could not be used.": "O modelo não pôde ser usado.",
    "The template is not valid: it is not a document or its tags do not parse.":
        "O modelo não é válido: não é um documento ou seus marcadores não podem ser lidos.",
    "The template is not a valid PowerPoint (.pptx) file.": "O modelo não é um arquivo PowerPoint (.pptx) válido.",
}
ERRORS["template.not_found"].update({"Choose a template for this step.": "Escolha um modelo para esta etapa."})
ERRORS["template.unmapped_tags"].update({"The template uses a tag that has no value.":
                                         "O modelo usa um marcador sem valor."})
ERRORS["template.unsafe"] = {"The template tries to reach something outside its data, which is not allowed.":
                             "O modelo tenta acessar algo fora dos seus dados, o que não é permitido."}
ERRORS["template.timeout"] = {
    "The template took too long to render; check its loops.":
        "O modelo demorou demais para ser gerado; verifique seus laços.",
    "{name} took longer than {seconds} s to render; check its loops.":
        "{name} levou mais de {seconds} s para ser gerado; verifique seus laços."}
ERRORS["template.too_large"] = {
    "The template produces a document larger than allowed; check its loops.":
        "O modelo produz um documento maior que o permitido; verifique seus laços.",
    "The template builds a value larger than allowed.": "O modelo monta um valor maior que o permitido.",
    "The template formats a value wider than allowed.": "O modelo formata um valor mais largo que o permitido.",
    "The template loops more times than allowed.": "O modelo repete um laço mais vezes que o permitido."}
ERRORS["template.render_error"] = {
    "A tag of the template could not be evaluated.": "Um marcador do modelo não pôde ser avaliado.",
    "A tag prints a function instead of a value; call it or name a field.":
        "Um marcador imprime uma função em vez de um valor; chame-a ou indique um campo."}

#: a prefix some messages carry before their own text: (English pattern, pt-BR template)
PREFIXES = ((r"Template “(?P<name>.+?)”: (?P<rest>.+)", "Modelo “{name}”: {rest}"),)

ACTIONS["template.image_missing"] = ("Enviar imagem", "Guarde a imagem com o modelo (PUT /templates/{id}/images/{name}) "
                                                      "e retome a execução.")
ERRORS["template.image_missing"] = {
    "The template uses an image that is not stored with it.": "O modelo usa uma imagem que não está guardada com ele.",
    "The template uses the image “{name}”, which is not stored with it; upload it with "
    "PUT /api/v1/templates/{id}/images/{file}.":
        "O modelo usa a imagem “{name}”, que não está guardada com ele; envie-a com "
        "PUT /api/v1/templates/{id}/images/{file}."}
ERRORS["template.image_invalid"] = {"The image must be a PNG, JPEG or GIF of at most 5 MB.":
                                    "A imagem deve ser PNG, JPEG ou GIF de no máximo 5 MB."}
ERRORS["outbound.blocked"] = {"DocG may not call this address.": "O DocG não pode chamar este endereço."}
ERRORS["request_timeout"] = {"The request body arrived too slowly.": "O corpo da requisição chegou devagar demais."}
ERRORS["render.pdf_unavailable"] = {
    "PDF conversion is not available on this server (LibreOffice is not installed).":
        "A conversão para PDF não está disponível neste servidor (o LibreOffice não está instalado)."}
ERRORS["render.pdf_failed"] = {"The document could not be converted to PDF.":
                               "O documento não pôde ser convertido para PDF."}
ERRORS["hubspot.object_not_found"] = {"The HubSpot record does not exist or was deleted.":
                                      "O registro do HubSpot não existe ou foi excluído."}
ERRORS["ai.model_not_found"] = {"The AI model does not exist or this account may not use it.":
                                "O modelo de IA não existe ou esta conta não pode usá-lo."}
ERRORS["ai.quota_exceeded"] = {"The AI account has no credit or quota left; check its plan and billing.":
                               "A conta de IA não tem mais crédito ou cota; verifique o plano e a cobrança."}
ERRORS["ai.invalid_answer"] = {"The AI model did not answer as asked.": "O modelo de IA não respondeu como pedido."}
ERRORS["webhook.replayed"] = {
    "This signed request was already received. Sign every delivery with a fresh timestamp; send the same "
    "Idempotency-Key to retry safely.":
        "Esta requisição assinada já foi recebida. Assine cada entrega com um timestamp novo; envie a mesma "
        "Idempotency-Key para repetir com segurança."}
ERRORS["secret.not_set"] = {
    'A secret was sent as "[set]" but this step has no stored secret there; send the value.':
        'Um segredo foi enviado como "[set]", mas esta etapa não tem segredo guardado ali; envie o valor.'}
ERRORS["signature.withdrawn"] = {"This signature request was withdrawn.": "Este pedido de assinatura foi retirado."}
ERRORS["approval.withdrawn"] = {
    "This approval request was withdrawn at {when}.": "Este pedido de aprovação foi retirado em {when}.",
    "This approval request was withdrawn; nothing is waiting for your decision.":
        "Este pedido de aprovação foi retirado; nada aguarda a sua decisão."}
ERRORS["invalid_data"] = {"A value in this step is not valid (for example a malformed ID).":
                          "Um valor desta etapa não é válido (por exemplo, um ID malformado)."}
ERRORS["backup.failed"] = {"The backup or the restore failed.": "O backup ou a restauração falhou."}
ERRORS["run.stuck"] = {"The run stopped making progress and was stopped after repeated attempts to move it on.":
                       "A execução parou de avançar e foi interrompida depois de várias tentativas de movê-la."}
ERRORS["email.unknown_outcome"] = {
    "The e-mail may or may not have been sent: the attempt that sent it stopped before it could record the "
    "outcome. Confirm whether it was received, then resume the run.":
        "O e-mail pode ou não ter sido enviado: a tentativa que o enviava parou antes de registrar o resultado. "
        "Confirme se ele foi recebido e retome a execução."}
ERRORS["effect.unknown_outcome"] = {"It is not known whether this step's external effect happened.":
                                    "Não se sabe se o efeito externo desta etapa aconteceu."}
ACTIONS.update({
    "invalid_config": ("Corrigir a etapa", "A configuração da etapa não pode funcionar; corrija-a e tente de novo."),
    "invalid_data": ("Corrigir a etapa", "Um valor da etapa não é válido (por exemplo, um ID malformado)."),
    "run.stuck": ("Repetir a execução", "A execução parou de avançar; verifique a etapa atual e repita."),
    "email.unknown_outcome": ("Confirmar se o e-mail foi recebido",
                              "O e-mail pode ou não ter sido enviado; confirme com o destinatário e retome."),
})

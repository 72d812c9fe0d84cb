"""The side-effect ledger: each external effect of a node happens once.

Before an effect (email, outgoing webhook, provider object) the hop records
the key `(execution, node, effect)`. A redelivered hop that finds the effect
`done` returns the recorded result instead of repeating it.

NOTE: an entry still `started` means a previous attempt died between
recording the intent and recording the result. Whether the effect happened
is unknown; `once()` performs it again (at-least-once in that window of a
few milliseconds) and passes the same idempotency key, so providers that
honour one (Stripe, our outgoing webhooks, SMTP Message-ID) can dedupe.
"""
from storage.models import SideEffect, utcnow


def key_for(execution_id, node_id, effect):
    return f"{execution_id}:{node_id}:{effect}"


class Ledger:
    def once(self, execution_id, node_id, effect, perform):
        """Run `perform(idempotency_key)` unless already done; return its result.

        The common case, a first attempt, is one INSERT that claims the key;
        only when the key exists is the entry read.
        """
        key = key_for(execution_id, node_id, effect)
        created = (SideEffect.insert(execution=execution_id, node_id=node_id, effect=effect, idempotency_key=key)
                   .on_conflict_ignore().returning(SideEffect.id).execute())
        if not list(created):
            entry = SideEffect.get(SideEffect.idempotency_key == key)
            if entry.status == "done":
                return entry.result
        result = perform(key)
        (SideEffect.update(status="done", result=result, completed_at=utcnow())
         .where(SideEffect.idempotency_key == key).execute())
        return result

    def entries(self, execution_id):
        return list(SideEffect.select().where(SideEffect.execution == execution_id)
                    .order_by(SideEffect.id))

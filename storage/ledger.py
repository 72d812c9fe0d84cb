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
from peewee import IntegrityError

from storage.db import database
from storage.models import SideEffect, utcnow


def key_for(execution_id, node_id, effect):
    return f"{execution_id}:{node_id}:{effect}"


class Ledger:
    def once(self, execution_id, node_id, effect, perform):
        """Run `perform(idempotency_key)` unless already done; return its result."""
        key = key_for(execution_id, node_id, effect)
        entry = SideEffect.get_or_none(SideEffect.idempotency_key == key)
        if entry is not None and entry.status == "done":
            return entry.result
        if entry is None:
            try:
                with database.atomic():
                    SideEffect.create(execution=execution_id, node_id=node_id,
                                      effect=effect, idempotency_key=key)
            except IntegrityError:
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

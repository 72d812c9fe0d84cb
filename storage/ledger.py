"""The side-effect ledger: each external effect of a node happens once.

Before an effect (email, outgoing webhook, provider object) the hop records
the key `(execution, node, effect)` as `started`. After it, the entry is
`done` with the result, or `failed` when the effect raised a definite error
(it did not happen; a retry performs it again). A redelivered hop that finds
the effect `done` returns the recorded result instead of repeating it.

An effect with a point of no return (an e-mail: the SMTP DATA command) is
`staged`: `perform(key, in_flight)` calls `in_flight()` right before that
point, which commits the status `in_flight`. A `started` staged entry found
by a later attempt is known not to have happened and is performed again.

NOTE: an entry `in_flight` (or `started`, for an effect that is not staged)
when a later attempt arrives means the previous attempt died (kill -9, a
PostgreSQL outage, a timeout with no answer) between the point of no return
and recording the result: whether the effect happened is unknown. `once()`
then follows `on_unknown`: `resend` performs it again with the same
idempotency key (providers that honour one, Stripe and our outgoing
webhooks, dedupe), `review` marks the entry `unknown` and raises
OutcomeUnknown so a person decides; `confirm_unknown()` (on resume) records
their answer as done, so the run goes on without repeating the effect.
"""
from storage import fault
from storage.errors import OutcomeUnknown
from storage.models import SideEffect, utcnow

ON_UNKNOWN = ("resend", "review")


def key_for(execution_id, node_id, effect):
    return f"{execution_id}:{node_id}:{effect}"


class Ledger:
    def once(self, execution_id, node_id, effect, perform, *, on_unknown="resend", staged=False):
        """Run `perform(idempotency_key)` unless already done; return its result.

        With `staged`, `perform(key, in_flight)` must call `in_flight()` just
        before its point of no return. The common case, a first attempt, is
        one INSERT that claims the key before and one UPDATE after; only when
        the key exists is it read. An exception with a true `outcome_unknown`
        attribute leaves the entry in flight (the next attempt decides).
        """
        if on_unknown not in ON_UNKNOWN:
            raise ValueError(f"on_unknown must be one of {ON_UNKNOWN}, not {on_unknown!r}")
        key = key_for(execution_id, node_id, effect)
        created = (SideEffect.insert(execution=execution_id, node_id=node_id, effect=effect, idempotency_key=key)
                   .on_conflict_ignore().returning(SideEffect.id).execute())
        if not list(created):
            entry = SideEffect.get(SideEffect.idempotency_key == key)
            if entry.status == "done":
                return entry.result
            unknown = entry.status in ("in_flight", "unknown") or (entry.status == "started" and not staged)
            if unknown and on_unknown == "review":
                SideEffect.update(status="unknown").where(SideEffect.idempotency_key == key).execute()
                raise OutcomeUnknown(message_tech=f"{effect} {key} was in flight when its attempt stopped")
            SideEffect.update(status="started").where(SideEffect.idempotency_key == key).execute()

        def in_flight():
            SideEffect.update(status="in_flight").where(SideEffect.idempotency_key == key).execute()

        try:
            result = perform(key, in_flight) if staged else perform(key)
        except Exception as ex:
            if not getattr(ex, "outcome_unknown", False):
                SideEffect.update(status="failed").where(SideEffect.idempotency_key == key).execute()
            raise
        fault.point("after_effect")
        (SideEffect.update(status="done", result=result, completed_at=utcnow())
         .where(SideEffect.idempotency_key == key).execute())
        return result

    def confirm_unknown(self, execution_id, confirmed_by):
        """Record a person's word that the run's effects of unknown outcome happened; return how many."""
        return (SideEffect.update(status="done", completed_at=utcnow(),
                                  result={"outcome": "confirmed", "confirmed_by": confirmed_by})
                .where((SideEffect.execution == execution_id) & (SideEffect.status == "unknown")).execute())

    def entries(self, execution_id):
        return list(SideEffect.select().where(SideEffect.execution == execution_id)
                    .order_by(SideEffect.id))

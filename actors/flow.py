"""Move a run forward from its persisted state: the next hop or the end.

Shared by the hop (actors/pipeline.py), the waits (actors/waits.py), the
controls and the clock, so none of them imports another to advance a run.
"""
import dataclasses

from actors.envelope import Envelope
from storage import admission, executions
from storage import steps as step_state
from storage import runstate
from storage.models import Execution, ExecutionStep
from telemetry import tracing

#: phase -> actor, filled by actors.phases
HOPS = {}
WAITING = frozenset({"paused", "needs_review", "signing"})
STOP_IN_DRY_RUN = frozenset({"save", "delivery", "approval", "signature"})


@dataclasses.dataclass
class Hop:
    """The next hop of a run: its envelope, its phase (the actor) and the run's trace."""

    envelope: Envelope
    phase: str
    traceparent: str | None = None


def send(envelope, phase, *, traceparent=None):
    """Send the hop message, inside the run's trace (`traceparent` of its row)."""
    with tracing.within_run(traceparent):
        HOPS[phase].send(envelope.to_message())


def send_hop(hop):
    """Send `hop` (a Hop, or None: nothing to send)."""
    if hop is not None:
        send(hop.envelope, hop.phase, traceparent=hop.traceparent)


def should_stop(execution, steps):
    """Return True when the run has no next node to run (end, until_phase, dry run)."""
    index = execution.node_index
    if index >= len(steps):
        return True
    return stops(steps[index].phase, steps[index - 1].phase if index else None,
                 until_phase=execution.until_phase, dry_run=execution.dry_run)


def stops(following, previous, *, until_phase, dry_run):
    """True when the next step (its phase `following`, None past the end) is not to run after `previous`."""
    if following is None:
        return True
    if until_phase and previous == until_phase and following != previous:
        return True
    return bool(dry_run) and following in STOP_IN_DRY_RUN


def advance(execution_id, *, row=None):
    """Move a run forward from its persisted state: finish it or send its hop.

    Safe to call any number of times: finishing is a CAS transition, a
    preflight is recorded once, and a duplicate hop message loses the claim.
    `row` is the execution as the caller just read or wrote it, which spares
    reading it again; if it is already stale, the worst outcome is a
    duplicate hop message, which the hop ignores.
    """
    send_hop(following(execution_id, row=row))


def following(execution_id, *, row=None, steps=None):
    """What `advance` does, except that the next hop is returned (a Hop, or None) instead of sent.

    The run's end and the admission check happen here; the caller sends the
    hop or, in a worker, may run it in the same message (actors/pipeline.py).
    `steps` are the run's steps (phase and status) when the caller has them.
    """
    execution = row or Execution.get_by_id(execution_id)
    if execution.status in runstate.TERMINAL or execution.status in WAITING:
        return None
    if execution.status == "queued" and execution.preflight_summary is None:
        if admitted(execution):
            return Hop(Envelope.of(execution), "preflight", execution.traceparent)
        return None
    if steps is None:
        steps = executions.steps(execution.id, ExecutionStep.phase, ExecutionStep.status)
    if should_stop(execution, steps):
        step_state.finish(execution)
        release_slots(execution.organization_id)
        return None
    step = steps[execution.node_index]
    if step.status in ("pending", "running"):
        return Hop(Envelope.of(execution), step.phase, execution.traceparent)
    return None


def following_committed(envelope, committed, previous):
    """The next hop after a hop's COMMIT (storage/hop.py), without reading the run or its steps.

    `envelope` is the next hop's, `committed` what COMMIT returned (the
    run's status, the next step's phase and status), `previous` the phase
    of the step just done: the same decisions as `following`, from the commit.
    """
    if committed.status in runstate.TERMINAL or committed.status in WAITING:
        return None
    if committed.status == "queued":
        return following(envelope.execution_id)
    if stops(committed.next_phase, previous, until_phase=committed.until_phase, dry_run=committed.dry_run):
        step_state.finish(Execution(id=envelope.execution_id, organization_id=envelope.organization_id,
                                    workflow_id=envelope.workflow_id, correlation_id=envelope.correlation_id,
                                    status=committed.status, dry_run=committed.dry_run,
                                    until_phase=committed.until_phase))
        release_slots(envelope.organization_id)
        return None
    if committed.next_status in ("pending", "running"):
        return Hop(envelope, committed.next_phase, committed.traceparent)
    return None


def _org_max_inflight():
    from actors import broker

    return broker.services.settings.org_max_inflight


def admitted(execution):
    """True if the run may send its first hop (its org has a free slot); see storage/admission.py."""
    return admission.admit(execution, _org_max_inflight())


def release_slots(organization_id):
    """Start the organization's deferred runs that now fit; return how many."""
    ids = admission.release(organization_id, _org_max_inflight())
    for execution_id in ids:
        advance(execution_id)
    return len(ids)


def finish(execution_id):
    step_state.finish(Execution.get_by_id(execution_id))

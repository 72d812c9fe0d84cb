"""Move a run forward from its persisted state: the next hop or the end.

Shared by the hop (actors/pipeline.py), the waits (actors/waits.py), the
controls and the clock, so none of them imports another to advance a run.
"""
from actors.envelope import Envelope
from storage import executions
from storage import steps as step_state
from storage import runstate
from storage.models import Execution, ExecutionStep

#: phase -> actor, filled by actors.phases
HOPS = {}
WAITING = frozenset({"paused", "needs_review", "signing"})
STOP_IN_DRY_RUN = frozenset({"save", "delivery", "approval", "signature"})


def send(envelope, phase):
    HOPS[phase].send(envelope.to_message())


def should_stop(execution, steps):
    """Return True when the run has no next node to run (end, until_phase, dry run)."""
    index = execution.node_index
    if index >= len(steps):
        return True
    following = steps[index].phase
    previous = steps[index - 1].phase if index else None
    if execution.until_phase and previous == execution.until_phase and following != previous:
        return True
    return execution.dry_run and following in STOP_IN_DRY_RUN


def advance(execution_id, *, row=None):
    """Move a run forward from its persisted state: finish it or send its hop.

    Safe to call any number of times: finishing is a CAS transition, a
    preflight is recorded once, and a duplicate hop message loses the claim.
    `row` is the execution as the caller just read or wrote it, which spares
    reading it again; if it is already stale, the worst outcome is a
    duplicate hop message, which the hop ignores.
    """
    execution = row or Execution.get_by_id(execution_id)
    if execution.status in runstate.TERMINAL or execution.status in WAITING:
        return
    if execution.status == "queued" and execution.preflight_summary is None:
        send(Envelope.of(execution), "preflight")
        return
    steps = executions.steps(execution.id, ExecutionStep.phase, ExecutionStep.status)
    if should_stop(execution, steps):
        step_state.finish(execution)
        return
    step = steps[execution.node_index]
    if step.status in ("pending", "running"):
        send(Envelope.of(execution), step.phase)


def finish(execution_id):
    step_state.finish(Execution.get_by_id(execution_id))

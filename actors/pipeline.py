"""The hop: run one node of an execution, persist, emit, enqueue the next.

Each hop is idempotent. A message is acted on only if its hop number is the
execution's current hop and it wins the step claim (storage/hop.py CLAIM).
The step's output, its events, the new envelope and the hop counter commit
in one statement (COMMIT); events are relayed to Redis after the commit and
the next hop is sent (or chained) last. A stale message (its hop already
done) re-drives the run if the process that did the hop died before the
next hop was sent.

Consecutive nodes of a run are chained: after a hop commits, the worker
runs the next node in the same message (same queue, within HOP_CHAIN_MS),
so a run of quick nodes costs one message, not one per node. Every node is
still claimed and committed on its own, with its events, before the next
starts. NOTE: what a node run in another node's message keeps of a message
of its own:

* its time limit: TimeLimit arms one deadline per message, so `_chain`
  re-arms it for each chained node (actors/middleware.rearm_time_limit);
* its retries: a chained node that fails with a retryable error (or runs
  out of time) is handed to a message of its own, sent with the delay and
  the retry count Dramatiq's Retries would have given it (retries=1), so a
  chained node is attempted as often as any other, never more;
* a crash: the message being processed is the chain's first node's, and
  it is redelivered; its hop is then found done (stale), which re-drives
  the run from its persisted state: the node that was running gets a
  message of its own and runs again (its attempt + 1), exactly as a hop
  killed in its own message does. No committed node runs again.
* its span and its metrics: `chained_span` opens the span its message
  would have opened, `chained_hop_done` counts it.
"""
import dataclasses
import logging
import re
import time
import uuid

import peewee
from dramatiq.common import compute_backoff
from dramatiq.middleware import CurrentMessage
from dramatiq.middleware.time_limit import TimeLimitExceeded

from actors import waits as wait_actors
from actors.envelope import Envelope
from actors import telemetry as hop_telemetry
from actors.flow import (HOPS, STOP_IN_DRY_RUN, WAITING, advance, finish, following,  # noqa: F401
                         following_committed, release_slots, send, send_hop, should_stop)
from actors.middleware import rearm_time_limit
from storage import hop as hop_state
from storage import steps as step_state
from integrations import preflight
from integrations.base import NodeContext, load_apps
from integrations.errors import IntegrationError, InvalidData
from storage import executions, node_secrets, preflights, reviews, runstate, starts, waits
from storage.db import database
from storage.errors import InvalidTransition
from storage.events import EventBatch, flush_deferred
from storage.models import Execution, utcnow
from telemetry import metrics, tracing

log = logging.getLogger("docg.pipeline")
#: the promise a transient error's text makes, dropped once no attempt is left
RETRIED = re.compile(r"[;,.]?\s*(the step )?will be retried\.?", re.IGNORECASE)



def services():
    from actors import broker

    return broker.services


def start(workflow, *, trigger_data, trigger_type="api", dry_run=False, until_phase=None,
          retry_of=None, actor=("user", None)):
    """Create a queued execution and enqueue its first hop; return it."""
    execution, batch = _create(workflow, trigger_data=trigger_data, trigger_type=trigger_type, dry_run=dry_run,
                               until_phase=until_phase, retry_of=retry_of, actor=actor)
    batch.flush()
    advance(execution.id, row=execution)
    return execution


def start_once(workflow, key, *, source, trigger_data, dry_run=False, until_phase=None, **options):
    """Start at most one run per (workflow, `key`); return (execution, created).

    A repeated key returns the run it started. If that run is still `queued`
    its first hop is sent again (safe: hops are claimed once), which recovers
    a start whose enqueue failed after the commit, e.g. with Redis down.
    Without a key every call starts a run.
    """
    if not key:
        return start(workflow, trigger_data=trigger_data, dry_run=dry_run, until_phase=until_phase, **options), True
    digest = starts.fingerprint(trigger_data=trigger_data, dry_run=dry_run, until_phase=until_phase)
    with database.atomic():
        existing = starts.claim(workflow, source, key, digest)
        if existing is None:
            execution, batch = _create(workflow, trigger_data=trigger_data, dry_run=dry_run,
                                       until_phase=until_phase, **options)
            starts.bind(workflow, source, key, execution.id)
    if existing is not None:
        execution = Execution.get_by_id(existing)
        if execution.status == "queued":
            advance(execution.id)
        return execution, False
    batch.flush()
    advance(execution.id, row=execution)
    return execution, True


def _create(workflow, **options):
    """Create the queued run from the workflow's nodes, read once."""
    registry = load_apps()
    nodes = executions.nodes_of(workflow)
    phases = {node.node_type: registry.phase_of(node.node_type) for node in nodes}
    return traced(executions.create(workflow, nodes=executions.node_specs(nodes, phases),
                                    traceparent=tracing.current_traceparent(), **options))


def traced(created):
    """Name the run on the current span (the request's); return `created` as is."""
    execution = created[0]
    tracing.annotate(**{"docg.correlation_id": execution.correlation_id, "docg.execution_id": execution.id})
    return created


def run_hop(data, *, phase):
    """Run the node an envelope points at, at most once, then the nodes after it it may chain."""
    message = CurrentMessage.get_current_message()
    options = message.options if message else {}
    envelope = Envelope.from_message(data)
    try:
        outcome, hop = _node(envelope, phase, retries=options.get("retries", 0),
                             rechecks=options.get("claim_rechecks", 0) if message else CLAIM_RECHECKS)
        metrics.note_outcome(outcome)
        _chain(hop, HOPS[phase].queue_name)
    finally:
        flush_deferred()  # a COMMIT's events wait for the next relay (storage/events.py); none is left behind


def _node(envelope, phase, *, retries, rechecks):
    """Run one node (logs what happened); return (outcome, the run's next Hop or None)."""
    outcome, hop = _hop(envelope, retries)
    if outcome in ("failed", "waiting", "stopped"):
        release_slots(envelope.organization_id)
    elif outcome == "claimed-elsewhere":
        outcome = recheck_later(envelope.to_message(), phase, rechecks)
    log.info("%s hop %s node %s of %s: %s", phase, envelope.hop, envelope.node_index, envelope.execution_id, outcome,
             extra={"correlation_id": envelope.correlation_id})
    return outcome, hop


def _chain(hop, queue):
    """Run the run's next nodes in this message while they are on `queue` and HOP_CHAIN_MS lasts; send the rest.

    See the NOTE at the top: each chained node gets its own time limit, and
    one that fails in a way a retry may fix goes to a message of its own.
    """
    ends = time.monotonic() + services().settings.hop_chain_ms / 1000
    parent = None
    while hop is not None:
        actor = HOPS[hop.phase]
        if hop.phase == "preflight" or actor.queue_name != queue or time.monotonic() >= ends:
            flush_deferred()  # the last COMMIT's events reach Redis before the next hop can
            send_hop(hop)
            return
        rearm_time_limit(actor.broker, actor)
        started = time.monotonic()
        try:
            with hop_telemetry.chained_span(actor, hop.envelope, parent) as parent:
                outcome, following_hop = _node(hop.envelope, hop.phase, retries=0, rechecks=0)
        except (Exception, TimeLimitExceeded) as ex:  # noqa: BLE001 - retried in its own message, as Retries would
            hop_telemetry.chained_hop_done(hop.phase, "error", started)
            _hand_off(hop, actor, ex)
            return
        hop_telemetry.chained_hop_done(hop.phase, outcome, started)
        hop = following_hop


def _hand_off(hop, actor, error):
    """Send a chained node that failed to a message of its own: its first retry, after Retries' first backoff.

    With no retries at all (HOP_MAX_RETRIES=0) nothing is sent, as Retries
    would send nothing: the step is left as a failed message leaves it, for
    the clock's reaper to re-drive.
    """
    if actor.options.get("max_retries", 0) < 1:
        log.error("%s hop %s node %s of %s, chained, failed (%s) with no retries left", hop.phase, hop.envelope.hop,
                  hop.envelope.node_index, hop.envelope.execution_id, type(error).__name__,
                  extra={"correlation_id": hop.envelope.correlation_id})
        return
    flush_deferred()
    _, delay = compute_backoff(0, factor=actor.options["min_backoff"], max_backoff=actor.options["max_backoff"])
    log.warning("%s hop %s node %s of %s, chained, failed (%s): retried in its own message in %d ms",
                hop.phase, hop.envelope.hop, hop.envelope.node_index, hop.envelope.execution_id,
                type(error).__name__, delay, extra={"correlation_id": hop.envelope.correlation_id})
    actor.send_with_options(args=(hop.envelope.to_message(),), delay=delay, retries=1)


def _hop(envelope, retries):
    """Claim and start the envelope's step in one statement, run it, commit it in one more (storage/hop.py).

    Returns (outcome, the next Hop or None).
    """
    message = CurrentMessage.get_current_message()
    token = message.message_id if message else uuid.uuid4().hex
    held, claimed = hop_state.claim(envelope, token,
                                    key=step_state.lock_key(envelope.execution_id, envelope.node_index))
    if claimed is None:
        return _unclaimed(envelope)
    try:
        return _run_claimed(claimed, envelope, retries)
    finally:
        if not claimed.released:
            step_state.release(envelope.execution_id, envelope.node_index)


def _unclaimed(envelope):
    """Say why the envelope's step was not claimed, from the run's row (off the hot path); (outcome, next Hop)."""
    execution = Execution.get_or_none(Execution.id == envelope.execution_id)
    if execution is None or execution.status in runstate.TERMINAL:
        return "ignored", None
    if envelope.hop != execution.hop:
        return "stale", following(execution.id, row=execution) if envelope.hop < execution.hop else None
    if execution.status in WAITING:
        return "waiting", None
    return "claimed-elsewhere", None


def permanent(ex):
    """The step failure for an error no retry can fix, or None when a retry may help."""
    if isinstance(ex, IntegrationError):
        return None if ex.retryable else ex
    if isinstance(ex, peewee.DataError):
        return InvalidData(message_tech=f"{type(ex).__name__}: {str(ex).strip()}")
    return None


def final_failure(ex, attempts):
    """The step failure after the last attempt: its text says it failed, not that it will be retried."""
    if isinstance(ex, IntegrationError):
        human = RETRIED.sub("", ex.message_human).rstrip(" .;,")
        return IntegrationError(f"{human}. The step failed after {attempts} attempts.", ex.message_tech, code=ex.code)
    return IntegrationError(f"An unexpected error stopped this step after {attempts} attempts.",
                            f"{type(ex).__name__}: {ex}", code="internal_error")


def _run_claimed(claimed, envelope, retries):
    step = claimed.step
    if claimed.run is None:  # a status CLAIM does not start from (delivery's `sending`, after a wait, ...)
        try:
            claimed.run = hop_state.Run.of(step_state.begin(Execution.get_by_id(envelope.execution_id), step))
        except InvalidTransition:
            return "stopped", None
    run = claimed.run
    started = time.monotonic()
    inputs = {}
    try:
        result = _run_node(run, step, envelope, inputs)
    except Exception as ex:  # noqa: BLE001 - any bug or time limit: retry, then fail with detail
        _record_input(step, inputs)
        if getattr(ex, "review", False) and _hold_for_review(run, step, ex):
            return "needs-review", None  # a person must decide: a template problem, an e-mail of unknown outcome
        error = permanent(ex)
        if error is None and retries < services().settings.hop_max_retries:
            step_state.note_retry(run, step, ex, retries)
            raise
        step_state.fail(run, step, error or final_failure(ex, retries + 1))
        return "failed", None
    if result.wait is not None:
        _record_input(step, inputs)
        execution = waits.pause(run, step, result.wait, result.output,
                                events=wait_actors.announcement(step, result.wait))
        wait_actors.wait_started(execution, step, result.wait)
        return "waiting", None
    duration_ms = int((time.monotonic() - started) * 1000)
    try:
        done = hop_state.complete(claimed, envelope.context, result, duration_ms, inputs.get("config"))
    except peewee.DataError as ex:  # the output cannot be stored (e.g. a NUL character): no retry helps
        step_state.fail(run, step, permanent(ex))
        return "failed", None
    if done is None:
        return "lost-race", None
    committed, context = done
    after = dataclasses.replace(envelope, node_index=step.position + 1, hop=committed.hop, context=context,
                                dry_run=committed.dry_run, until_phase=committed.until_phase)
    return "done", following_committed(after, committed, step.phase)


def _record_input(step, inputs):
    """Store the resolved config of a step that did not complete (COMMIT stores it for one that did)."""
    if "config" in inputs:
        step_state.record_input(step, inputs["config"])


def _hold_for_review(execution, step, error):
    """A template problem: hold the run in needs_review (never retried); False where review cannot apply."""
    try:
        return reviews.hold(execution, step, error)
    except InvalidTransition:
        return False


def run_preflight(data):
    """Check the run before its first action; route it to needs_review, completed (until_phase) or on.

    An error no retry can fix, or the last attempt's error, fails the run
    (it would otherwise stay `queued` while the reaper re-drives it). The
    first node runs in the same message (`_chain`). A redelivered preflight
    message whose hop has moved on (its worker died in a chained node)
    re-drives the run from its persisted state.
    """
    try:
        _preflight(Envelope.from_message(data))
    finally:
        flush_deferred()  # the preflight's events go with the first node's (storage/events.py)


def _preflight(envelope):
    execution = preflights.run_of(envelope.execution_id)
    if execution is None:
        return
    if execution.hop != envelope.hop or execution.status != "queued":
        if execution.hop > envelope.hop:  # its worker died in a chained node: go on from what was persisted
            log.info("preflight hop %s of %s: stale (run at hop %s), re-driven", envelope.hop,
                     envelope.execution_id, execution.hop, extra={"correlation_id": envelope.correlation_id})
            send_hop(following(execution.id, row=execution))
        return
    steps = preflights.steps_of(execution)
    if execution.preflight_summary is None:
        try:
            execution = record_preflight(execution, steps, defer=True)
        except Exception as ex:  # noqa: BLE001 - retried below unless it cannot help
            message = CurrentMessage.get_current_message()
            retries = message.options.get("retries", 0) if message else 0
            error = permanent(ex)
            if error is None and retries < services().settings.hop_max_retries:
                raise
            step_state.fail_run(execution, error or final_failure(ex, retries + 1))
            release_slots(execution.organization_id)
            return
    if execution is not None and execution.status == "queued":
        _chain(following(execution.id, row=execution, steps=steps), HOPS["preflight"].queue_name)
    elif execution is not None:
        release_slots(execution.organization_id)


def record_preflight(execution, steps=None, *, defer=False):
    """Run the checks for the nodes still to run and store the result (once); `steps` as steps_of reads them.

    With `defer`, its events wait for the thread's next relay (EventBatch.flush).
    """
    remaining, reused = preflights.nodes_to_check(execution, steps)
    began = utcnow()
    issues = preflight.check(remaining, trigger=execution.trigger_data, organization_id=execution.organization_id,
                             settings=services().settings, reused=reused,
                             correlation_id=str(execution.correlation_id))
    return preflights.record(execution, preflight.summary(issues), [dataclasses.asdict(i) for i in issues],
                             stop_after=execution.until_phase == "preflight", checked=(began, utcnow()), defer=defer)


def _run_node(execution, step, envelope, inputs):
    """Run the step's action; its resolved config is left in `inputs["config"]`, to be stored with the outcome."""
    action = load_apps().action(step.node_type)
    if action is None:
        raise IntegrationError("This step type is not available.", f"unknown node_type {step.node_type!r}",
                               code="invalid_config")
    ctx = NodeContext(
        execution_id=str(execution.id), organization_id=str(execution.organization_id),
        workflow_id=str(execution.workflow_id), correlation_id=str(execution.correlation_id),
        node_id=str(step.node_id), node_type=step.node_type, label=step.label, position=step.position,
        config={}, run=envelope.context, settings=services().settings, dry_run=execution.dry_run,
        services=services())
    ctx.config = action.resolve_config(node_secrets.reveal(step.config, execution.organization_id),
                                       envelope.context)
    inputs["config"] = ctx.config
    return action.run(ctx)


#: how many times, and how long apart at most, a hop whose step claim is held looks again
CLAIM_RECHECKS, CLAIM_RECHECK_MAX_MS = 6, 8000


def recheck_later(data, phase, done):
    """Look at a held step again later, in case its holder's host vanished.

    A holder on a dead host keeps its claim until PostgreSQL drops the
    session (TCP keepalives, see storage/db.py); a live holder finishes and
    the recheck finds the hop stale. `done` is how many rechecks this hop
    has had. Returns the outcome to log.
    """
    if done >= CLAIM_RECHECKS:
        return "claimed-elsewhere"
    delay = min(CLAIM_RECHECK_MAX_MS, 1000 * 2 ** done)
    HOPS[phase].send_with_options(args=(data,), delay=delay, claim_rechecks=done + 1)
    return f"claimed-elsewhere, recheck in {delay} ms"


__all__ = ["start", "start_once", "run_hop", "run_preflight", "advance", "send", "HOPS", "EventBatch"]

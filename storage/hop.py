"""The hop's two hot statements: take and start a step; commit it with its events.

The envelope already carries what they need (ids, hop, node index, run
context); the run's status, dry_run and until_phase come back from CLAIM,
its traceparent and the next step's phase and status from COMMIT, so no
envelope field was added and messages of either release run on the other.

A plain hop costs one round trip to claim its step and start it (status
CAS, `step.started`, progress, log line) and one statement to commit it
(output, next hop, `step.completed`, progress, log line, claim release).
Both are fixed SQL text run through `execute_sql` and return tuples: the
query builder and row-to-model work were most of a hop's CPU. Everything
else (retries, failures, reviews, waits, delivery's status moves, the
audit trail) stays in storage/steps.py and friends, which read the row.

NOTE: the claim is still the session advisory lock of storage/steps.py
(same key, so workers of the previous release and this one exclude each
other during a rolling release), but it is taken and released inside the
hot statements instead of in their own round trips:

* CLAIM takes it in a MATERIALIZED CTE that gates the rest as a one-time
  filter, so nothing is locked or updated unless the lock was won. The run
  row is then locked FOR UPDATE and its hop, node index and status are
  checked; under READ COMMITTED a row changed by a concurrent transaction is
  re-read at its latest committed version (EvalPlanQual) before the checks
  apply, so a run canceled while queued is seen canceled and does not start,
  and a hop another worker just committed is seen moved. The status CAS is
  the same UPDATE: it starts the run only from `queued`, `ready` or
  `running` (a subset of runstate.sources("running")), and a delivery step
  (`sending`, steps.PHASE_STATUS) only from FAST_SEND; any other status is
  left to runstate.transition on the cold path (steps.begin).
* COMMIT unlocks in a CTE that reads the RETURNING rows of both the run and
  the step UPDATE, so PostgreSQL can only evaluate it after both rows are
  updated, i.e. row-locked by this transaction. Between the unlock and the
  COMMIT a duplicate can win the advisory lock, but its CLAIM then waits on
  the run's row lock and re-checks the hop after our commit (moved: it
  claims nothing); a claim of the previous release, which does not lock the
  run row, waits on the step's row lock and finds it `success`.
* The lock is a session lock, so the claiming connection must stay checked
  out by the hop's thread from CLAIM to COMMIT: the Dramatiq middleware
  holds one pooled connection per message (actors/middleware.py), and the
  hop's `finally` releases the lock (steps.release) whenever COMMIT did not,
  so a pooled connection never goes back holding a claim. A kill -9 closes
  the connection and PostgreSQL drops the lock at once, as before.
* If COMMIT fails after its unlock ran (the statement errors after the CTE),
  the step stays `running` without a lock until the hop's failure path marks
  it; a redelivery in that window may run the node again, which is the same
  "a failed commit repeats the node" case the side-effect ledger covers.
"""
import contextlib
import dataclasses
import json

import peewee

from storage import audit, fault, logs, runstate, steps
from storage.db import Prepared, database
from storage.events import EventBatch, build
from storage.i18n.logs import LOGS
from storage.models import ExecutionStep, utcnow
from storage.redact import redact

#: the English log text of a started step, around its label (CLAIM renders it in SQL; storage/i18n/logs.py)
_STARTED = LOGS["step.started"]["en"].partition("{label}")
#: statuses a run may be claimed in: not waiting, not over
CLAIMABLE = sorted(set(runstate.TRANSITIONS) - set(steps.NOT_CLAIMABLE))
#: statuses CLAIM itself starts a `running` phase from; every other one goes through runstate.transition
FAST_BEGIN = ["queued", "ready", "running"]
if steps.PHASE_STATUS != {"delivery": "sending"}:
    raise RuntimeError("CLAIM's SQL starts a delivery step as `sending`: change it with steps.PHASE_STATUS")
#: statuses CLAIM itself moves to `sending` from for a delivery step (runstate: one transition, or the same
#: status with new fields); from queued or ready it takes two (running, then sending): steps.begin does them
FAST_SEND = ["running", "sending", "sent", "signed"]

_EVENTS = """
    INSERT INTO execution_events (execution_id, seq, organization_id, event_type, event)
    SELECT r.id, r.event_seq - count(*) OVER () + row_number() OVER (ORDER BY e.ord), r.organization_id,
           e.value->>'event_type',
           e.value || jsonb_build_object('status', r.status, 'progress', r.progress, 'current_step', r.current_step)
                   || CASE e.value->>'event_type' {data} ELSE '{{}}'::jsonb END
    FROM {source}, jsonb_array_elements(%(events)s::jsonb) WITH ORDINALITY AS e(value, ord)
    {where}
    RETURNING seq, event_type, event::text"""
_PROGRESS = """WHEN 'execution.progress' THEN jsonb_build_object('data', jsonb_build_object(
                          'progress', r.progress, 'current_step', r.current_step))"""

CLAIM = """
WITH lock AS MATERIALIZED (SELECT pg_try_advisory_lock(%(key)s) AS held),
run AS MATERIALIZED (
    SELECT x.id, x.status FROM workflow_executions x
    WHERE (SELECT held FROM lock) AND x.id = %(id)s AND x.hop = %(hop)s AND x.node_index = %(index)s
      AND x.status = ANY(%(claimable)s)
    FOR UPDATE),
claimed AS (
    UPDATE execution_steps s SET status = 'running', attempt = s.attempt + 1, claim_token = %(token)s,
           claimed_at = %(now)s, started_at = coalesce(s.started_at, %(now)s)
    FROM run
    WHERE s.execution_id = run.id AND s.position = %(index)s AND s.status IN ('pending', 'running')
    RETURNING s.id, s.node_id, s.node_type, s.label, s.phase, s.position, s.attempt, s.config),
r AS (
    UPDATE workflow_executions x SET status = ns.status, started_at = coalesce(x.started_at, %(now)s),
           delivery_state = CASE WHEN c.phase = 'delivery' THEN 'sending' ELSE x.delivery_state END,
           current_step = jsonb_build_object('index', c.position, 'label', c.label, 'node_id', c.node_id::text,
                                             'node_type', c.node_type),
           current_node_id = c.node_id,
           phase_metrics = jsonb_set(coalesce(x.phase_metrics, '{}'::jsonb), ARRAY[c.phase],
                                     coalesce(x.phase_metrics -> c.phase, '{}'::jsonb)
                                     || CASE WHEN coalesce(x.phase_metrics -> c.phase ->> 'started_at', '') = ''
                                        THEN jsonb_build_object('started_at', %(now_iso)s::text)
                                        ELSE '{}'::jsonb END),
           last_progress_at = %(now)s, updated_at = %(now)s, version = x.version + 1,
           event_seq = x.event_seq + CASE WHEN run.status = ns.status THEN 2 ELSE 3 END
    FROM run, claimed c,
         LATERAL (SELECT CASE WHEN c.phase = 'delivery' THEN 'sending' ELSE 'running' END AS status) ns
    WHERE x.id = run.id AND ((c.phase <> 'delivery' AND run.status = ANY(%(begin_from)s))
                             OR (c.phase = 'delivery' AND run.status = ANY(%(send_from)s)))
    RETURNING x.id, x.organization_id, x.correlation_id, x.status, x.progress, x.current_step, x.phase_metrics,
              x.event_seq, x.dry_run, x.until_phase, run.status AS previous),
logged AS (""" + logs.insert_from("""
    SELECT r.id, r.organization_id, 'ok',
           CASE WHEN c.phase IN ('delivery', 'approval', 'signature') THEN c.phase ELSE 'step' END,
           %(started_before)s || c.label || %(started_after)s, 'step.started', jsonb_build_object('label', c.label),
           'node ' || c.node_type || ' attempt ' || c.attempt, c.id, r.correlation_id, %(now)s
    FROM r, claimed c""") + """),
evented AS (""" + _EVENTS.format(source="r, claimed c", where="""
    WHERE e.value->>'event_type' <> 'execution.status_changed' OR r.previous <> r.status""", data="""
        WHEN 'execution.status_changed' THEN jsonb_build_object('data', jsonb_build_object(
                          'from', r.previous, 'to', r.status,
                          'reason', CASE WHEN r.status = 'sending' THEN 'step ' || c.label ELSE 'started' END))
        WHEN 'step.started' THEN jsonb_build_object('data', jsonb_build_object(
                          'node_id', c.node_id::text, 'node_type', c.node_type, 'position', c.position,
                          'label', c.label, 'attempt', c.attempt))
        """ + _PROGRESS) + """)
SELECT (SELECT held FROM lock), c.id::text, c.node_id::text, c.node_type, c.label, c.phase, c.position, c.attempt,
       c.config, r.status, r.progress, r.current_step, r.phase_metrics,
       (SELECT json_agg(json_build_array(seq, event_type, event) ORDER BY seq) FROM evented), r.dry_run, r.until_phase
FROM (SELECT 1) AS one LEFT JOIN claimed c ON true LEFT JOIN r ON true
"""

COMMIT = """
WITH r AS (
    UPDATE workflow_executions x SET hop = x.hop + 1, node_index = %(next)s, execution_context = %(context)s::jsonb,
           progress = %(progress)s, phase_metrics = %(metrics)s::jsonb, last_progress_at = %(now)s,
           updated_at = %(now)s, version = x.version + 1, event_seq = x.event_seq + 2
    WHERE x.id = %(id)s AND x.hop = %(hop)s
    RETURNING x.id, x.organization_id, x.correlation_id, x.status, x.progress, x.current_step, x.event_seq,
              x.traceparent, x.dry_run, x.until_phase, x.hop),
done AS (
    UPDATE execution_steps s SET status = 'success', data_in = %(data_in)s::jsonb, data_out = %(data_out)s::jsonb,
           completed_at = %(now)s, duration_ms = %(duration)s, error_code = NULL, error_human = NULL,
           error_tech = NULL
    FROM r WHERE s.id = %(step)s
    RETURNING s.id),
logged AS (""" + logs.insert_from("""
    SELECT r.id, r.organization_id, 'ok', %(domain)s, %(message)s, %(log_key)s, %(log_params)s::jsonb, %(details)s,
           %(step)s::uuid, r.correlation_id, %(now)s
    FROM r""") + """),
evented AS (""" + _EVENTS.format(source="r", where="", data=_PROGRESS) + """),
unlocked AS MATERIALIZED (SELECT pg_advisory_unlock(%(key)s) AS released FROM r, done)
SELECT r.status, r.traceparent, r.dry_run, r.until_phase, r.hop, nxt.phase, nxt.status,
       (SELECT bool_and(released) FROM unlocked),
       (SELECT json_agg(json_build_array(seq, event_type, event) ORDER BY seq) FROM evented)
FROM r LEFT JOIN execution_steps nxt ON nxt.execution_id = r.id AND nxt.position = %(next)s
"""


_CLAIM, _COMMIT = Prepared("docg_hop_claim", CLAIM), Prepared("docg_hop_commit", COMMIT)


@dataclasses.dataclass
class Run:
    """What a hop knows of its run without reading the 29-column row."""

    id: str
    organization_id: str
    workflow_id: str
    correlation_id: str
    dry_run: bool
    until_phase: str | None
    hop: int
    status: str
    progress: int
    current_step: dict | None
    phase_metrics: dict

    @classmethod
    def of(cls, execution):
        """The hop's view of an Execution row (the cold paths read one)."""
        return cls(id=str(execution.id), organization_id=str(execution.organization_id),
                   workflow_id=str(execution.workflow_id), correlation_id=str(execution.correlation_id),
                   dry_run=execution.dry_run, until_phase=execution.until_phase, hop=execution.hop,
                   status=execution.status, progress=execution.progress, current_step=execution.current_step,
                   phase_metrics=execution.phase_metrics or {})


@dataclasses.dataclass
class Claim:
    """A won step claim: the step, and the run if CLAIM also started it (None: begin on the cold path)."""

    step: ExecutionStep
    run: Run | None
    key: int
    released: bool = False


@dataclasses.dataclass
class Committed:
    """The run after COMMIT: enough to send the next hop or finish without reading it."""

    status: str
    traceparent: str | None
    dry_run: bool
    until_phase: str | None
    hop: int
    next_phase: str | None
    next_status: str | None


def _relay_batch(run_id, organization_id, rows):
    batch = EventBatch()
    batch.note_written(run_id, organization_id, rows or ())
    return batch


def claim(envelope, token, *, key):
    """Take the envelope's step and, when the run's status allows, start it (one statement).

    Returns a Claim, or (held, None) when nothing was claimed: `held` says
    whether the advisory lock was won (and has been released again).
    """
    now = utcnow()
    events = [build(_Placeholder(envelope), kind) for kind in
              ("execution.status_changed", "step.started", "execution.progress")]
    row = _CLAIM.execute(database, {
        "key": key, "id": envelope.execution_id, "hop": envelope.hop, "index": envelope.node_index,
        "claimable": CLAIMABLE, "token": token, "now": now, "now_iso": now.isoformat(), "begin_from": FAST_BEGIN,
        "send_from": FAST_SEND, "events": json.dumps(events), "started_before": _STARTED[0],
        "started_after": _STARTED[2]}).fetchone()
    held, step_id = row[0], row[1]
    if step_id is None:
        if held:
            database.execute_sql("SELECT pg_advisory_unlock(%s)", (key,))
        return held, None
    step = ExecutionStep(id=step_id, execution=envelope.execution_id, node_id=row[2], node_type=row[3],
                         label=row[4], phase=row[5], position=row[6], attempt=row[7], config=row[8] or {},
                         status="running")
    run = None
    if row[9] is not None:
        run = Run(id=envelope.execution_id, organization_id=envelope.organization_id,
                  workflow_id=envelope.workflow_id, correlation_id=envelope.correlation_id,
                  dry_run=row[14], until_phase=row[15], hop=envelope.hop, status=row[9],
                  progress=row[10], current_step=row[11], phase_metrics=row[12] or {})
        try:
            _relay_batch(run.id, run.organization_id, row[13]).flush()
        except BaseException:
            # NOTE: the claim never reaches the caller, whose `finally` would release it: released here, or
            # the pooled connection would keep the step locked and every retry would find it claimed
            # elsewhere. The started step is `running`, which a retry claims again (attempt + 1).
            _unlock(key)
            raise
    return held, Claim(step=step, run=run, key=key)


def _unlock(key):
    """Release this connection's advisory lock `key`; a connection already gone took it with it."""
    try:
        database.execute_sql("SELECT pg_advisory_unlock(%s)", (key,))
    except peewee.DatabaseError:
        pass


class _Placeholder:
    """The identity part of an event; CLAIM fills in the run's state and the step's data."""

    def __init__(self, envelope):
        self.id, self.workflow_id = envelope.execution_id, envelope.workflow_id
        self.organization_id, self.correlation_id = envelope.organization_id, envelope.correlation_id
        self.status, self.progress, self.current_step = None, None, None


def commit(claimed, *, next_index, context, progress, metrics, data_in, data_out, duration_ms, events, log):
    """Write the step's output, the next hop, its events and log line; release the claim.

    `events` are built dicts (their state fields are overwritten with the
    run's); `log` is (domain, logs.text(...), details). Returns (Committed, the
    written (seq, type, JSON) rows to relay after the caller's commit), or
    None when the hop had moved (nothing written).
    """
    run, step = claimed.run, claimed.step
    now = utcnow()
    row = _COMMIT.execute(database, {
        "id": run.id, "hop": run.hop, "next": next_index, "context": json.dumps(context, default=str),
        "progress": progress, "metrics": json.dumps(metrics, default=str), "now": now,
        "data_in": json.dumps(data_in, default=str), "data_out": json.dumps(data_out, default=str),
        "duration": duration_ms, "step": str(step.id), "domain": log[0], "message": log[1].english,
        "log_key": log[1].key, "log_params": json.dumps(log[1].params, default=str), "details": log[2],
        "events": json.dumps(events, default=str), "key": claimed.key}).fetchone()
    if row is None:
        return None
    claimed.released = bool(row[7])
    return (Committed(status=row[0], traceparent=row[1], dry_run=row[2], until_phase=row[3], hop=row[4],
                      next_phase=row[5], next_status=row[6]),
            row[8] or ())


def complete(claimed, context, result, duration_ms, data_in):
    """Commit the claimed step's result and the next hop; return (Committed, context) or None if the hop moved.

    A plain step is one autocommitted statement. Steps that leave an audit
    row (AUDIT_ACTION) or end the delivery phase add those writes to the same
    transaction: the audit chain needs its organization lock taken in a
    statement of its own, before the INSERT reads the previous hash
    (storage/audit.py), so it cannot ride inside COMMIT. Nor can that lock
    be taken before COMMIT to fold the INSERT in: cancel, fail and finish
    all lock the run row first and the audit lock second, and a hop taking
    them the other way round could deadlock with a cancel of its own run.
    """
    run, step = claimed.run, claimed.step
    now = utcnow()
    context = dict(context)
    context["steps"] = {**context.get("steps", {}), step.label: result.output}
    count = len(context.get("step_ids") or ()) or steps.step_count(run.id, context)
    progress = min(100, round(100 * (step.position + 1) / max(count, 1)))
    events = [build(run, "step.completed", {"node_id": str(step.node_id), "duration_ms": duration_ms,
                                            "output_preview": redact(result.output)}),
              build(run, "execution.progress", {})]
    audited = step.phase in steps.AUDIT_ACTION and not run.dry_run
    batch = EventBatch()
    plain = contextlib.nullcontext()  # a plain step: COMMIT is one statement, committed on its own
    with batch.atomic() if audited or step.phase in steps.DONE_STATUS else plain:
        out = commit(claimed, next_index=step.position + 1, context=context, progress=progress,
                     metrics=steps.phase_metrics(run, step.phase, end=now), data_in=redact(data_in),
                     data_out=redact(result.output), duration_ms=duration_ms, events=events,
                     log=(steps.domain(step.phase), logs.text("step.completed", label=step.label),
                          f"node {step.node_type} in {duration_ms} ms"))
        if out is None:
            return None
        committed, rows = out
        batch.note_written(run.id, run.organization_id, rows)
        if audited:
            audit.record(run.organization_id, steps.AUDIT_ACTION[step.phase], target_type="step",
                         target_id=step.id, execution_id=run.id, correlation_id=run.correlation_id,
                         metadata={"node_type": step.node_type, "label": step.label})
        if step.phase in steps.DONE_STATUS and committed.next_phase != step.phase:
            try:
                committed.status = runstate.transition(
                    run.id, steps.DONE_STATUS[step.phase], batch=batch, reason=f"{step.label} done",
                    fields={"delivery_state": "sent"}).status
            except runstate.InvalidTransition:
                pass  # canceled while the node ran: the node's work is recorded, the run stays canceled
    fault.point("after_commit")
    batch.flush(defer=True)  # relayed with the next node's CLAIM or the run's end, or by the hop's finally
    return committed, context

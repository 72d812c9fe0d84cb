"""The execution envelope: what travels from hop to hop in each message.

It carries ids, the position in the pipeline and the run context (trigger
data and step outputs). The database copy (`execution_context`, `hop`) is
authoritative: a message whose hop is not the execution's current hop is a
duplicate or stale and runs nothing. Messages carry `envelope_version` in
their options (actors.middleware.EnvelopeVersion).
"""
import dataclasses

#: version of the message format this release sends (message option `envelope_version`)
ENVELOPE_VERSION = 2
#: versions this release can run: 1 = messages sent before versions existed
SUPPORTED_VERSIONS = frozenset({1, 2})


@dataclasses.dataclass
class Envelope:
    execution_id: str
    organization_id: str
    workflow_id: str
    correlation_id: str
    node_index: int
    hop: int
    dry_run: bool = False
    until_phase: str | None = None
    context: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, execution):
        """Build the envelope for an execution's current hop from its row."""
        return cls(execution_id=str(execution.id), organization_id=str(execution.organization_id),
                   workflow_id=str(execution.workflow_id), correlation_id=str(execution.correlation_id),
                   node_index=execution.node_index, hop=execution.hop, dry_run=execution.dry_run,
                   until_phase=execution.until_phase, context=execution.execution_context or {})

    @classmethod
    def from_message(cls, data):
        """Read a message's envelope; keys this release does not know are ignored.

        NOTE: adding a key with a default is compatible both ways (an older
        worker drops it, a newer one defaults it); anything else bumps
        ENVELOPE_VERSION (docs/operations.md, "Releases").
        """
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    def to_message(self):
        """The message's argument: a plain dict of the fields.

        The context is shared, not copied: the broker encodes it at once.
        (dataclasses.asdict deep-copied the whole run context on every send.)
        """
        return {field: getattr(self, field) for field in _FIELDS}


_FIELDS = tuple(field.name for field in dataclasses.fields(Envelope))

"""Keep each template version's checked package and compiled tags for the process.

A render used to read the template's bytes from PostgreSQL, check the
package again (`template_checks.inspect`) and compile every part's Jinja
source again. All of that depends only on the version's bytes, so one
`Prepared` entry per (organization, template id, version, sha256) keeps:

- `content`: the bytes (a hit reads only the template's small columns);
- `report`: the checks' result (kind, fields, images the tags need);
- the compiled Jinja templates of its sources (`compiled(source)`), built
  in the shared sandbox, filled by the first render of the version;
- what a renderer derives from the bytes once (`derived(name, build)`), such
  as the .docx package without its styles (integrations/local/docx_package.py).

NOTE: a docxtpl `DocxTemplate` is mutated by `render()`, and a python-docx
`Document` costs as much to deep-copy as to parse, so the package itself is
parsed again by every render; only immutable things live here. A compiled
Jinja `Template` is immutable and thread-safe: each render builds its own
context, and the sandbox checks run at render time, not when compiling.

The key carries the organization, so one tenant's entry is never served to
another even for identical bytes, and the version and hash, so a new version
never meets the entry of the old one (which is dropped when the new one is
stored). The cache is an LRU
bounded in bytes (`TEMPLATE_CACHE_BYTES`; 0 turns it off), per process,
guarded by a lock.
"""
import collections
import threading

from integrations import template_checks, templating

#: the compiled code of a source weighs a few times its text; counted so the byte bound stays honest
COMPILED_WEIGHT = 4


class Prepared:
    """One template version's bytes, check report and compiled sources."""

    def __init__(self, content, report):
        self.content, self.report = content, report
        self._compiled, self._derived = {}, {}
        self._lock = threading.Lock()
        self.size = len(content)

    def derived(self, name, build, weight=len):
        """Return `build(content)`, computed once for the entry; `weight(value)` bytes count towards its size."""
        value = self._derived.get(name)
        if value is None:
            value = build(self.content)
            with self._lock:
                kept = self._derived.setdefault(name, value)
                grew = weight(value) if kept is value else 0
                self.size += grew
            if grew:
                _cache.grew(self, grew)
            value = kept
        return value

    def compiled(self, source):
        """The sandbox's compiled template for `source`, compiled on first use."""
        template = self._compiled.get(source)
        if template is None:
            template = templating.environment().from_string(source)
            with self._lock:
                kept = self._compiled.setdefault(source, template)
                grew = COMPILED_WEIGHT * len(source) if kept is template else 0
                self.size += grew
            if grew:
                _cache.grew(self, grew)
            return kept
        budget = templating.current()
        if budget is not None:
            budget.source = source  # NOTE: the error locator reads it, as Sandbox.from_string sets it.
        return template

    def jinja_env(self):
        """An environment for docxtpl's `jinja_env=`: the shared sandbox, compiling through this entry."""
        return _CompilingEnv(self)


class _CompilingEnv:
    """The shared sandbox, except that `from_string` reuses the entry's compiled sources."""

    def __init__(self, prepared):
        self.from_string = prepared.compiled

    def __getattr__(self, name):
        return getattr(templating.environment(), name)


class TemplateCache:
    """An LRU of Prepared entries bounded by the bytes they hold, at most one version per template."""

    def __init__(self, max_bytes):
        self.max_bytes = max_bytes
        self._entries = collections.OrderedDict()
        self._versions = {}  # (organization, template) -> the key of its kept version
        self._lock = threading.Lock()
        self.used = 0

    def get(self, key, load):
        """Return the entry for `key`, building it with `load()` -> (content, report) on a miss."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry
        entry = Prepared(*load())
        if self.max_bytes <= 0 or entry.size > self.max_bytes:
            return entry
        with self._lock:
            if key in self._entries:
                return self._entries[key]
            older = self._versions.get(key[:2])
            if older is not None:
                self._drop(older)  # NOTE: an older version of the same template is never needed again
            self._entries[key], self._versions[key[:2]] = entry, key
            entry.key = key
            self.used += entry.size
            self._evict()
        return entry

    def grew(self, entry, by):
        with self._lock:
            if self._entries.get(getattr(entry, "key", None)) is entry:
                self.used += by
                self._evict()

    def _drop(self, key):
        self.used -= self._entries.pop(key).size
        if self._versions.get(key[:2]) == key:
            del self._versions[key[:2]]

    def _evict(self):
        while self.used > self.max_bytes and self._entries:
            self._drop(next(iter(self._entries)))

    def holds(self, organization_id, template_id):
        """Whether an entry of some version of this organization's template is kept."""
        with self._lock:
            return (organization_id, template_id) in self._versions

    def clear(self):
        with self._lock:
            self._entries.clear()
            self._versions.clear()
            self.used = 0

    def __contains__(self, key):
        with self._lock:
            return key in self._entries


_cache = TemplateCache(64 * 1024 * 1024)


def cache(settings=None):
    """The process's cache, resized to `TEMPLATE_CACHE_BYTES` of `settings`."""
    if settings is not None and getattr(settings, "template_cache_bytes", None) is not None:
        _cache.max_bytes = settings.template_cache_bytes
    return _cache


def key_of(template):
    """The entry key of a Template row: organization, id, version and content hash."""
    return (str(template.organization_id), str(template.id), template.version, template.sha256)


def prepare(template, settings=None, *, content=None):
    """Return the Prepared entry of a Template row; `content()` gives its bytes on a miss."""
    def load():
        data = bytes(content() if content is not None else template.content)
        return data, template_checks.inspect(data)

    return cache(settings).get(key_of(template), load)

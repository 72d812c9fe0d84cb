"""Human texts in English and Brazilian Portuguese, looked up by code.

The catalogue is data (`messages.py` for API errors and recommended
actions, `texts.py` for pages and e-mails, `logs.py` for run log rows). Codes never change with the
language; only `message_human`, action labels and page or e-mail words do.

Errors are keyed by their code, then by the English text as a template
(`"Invalid field {field}: {problem}"`): a message raised with dynamic parts
is matched against the templates of its code and its parts carried into the
translation. An English text with no entry stays English rather than being
replaced by a vaguer generic one. `localize()` applies this to a whole JSON
body: errors and issues (code, message_human), step errors (error_code,
error_human), a run's last error (its code leads last_error_tech),
recommended actions (by params.issue_code) and log rows (message_key,
message_params).
"""
import datetime
import functools
import re

from storage.i18n import logs, messages, texts

LOCALES = ("en", "pt-BR")
DEFAULT = "en"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def normalize(tag):
    """Return the supported locale for a language tag ('pt', 'pt_br', 'en-US'...), or None."""
    if not isinstance(tag, str):
        return None
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    return {"pt": "pt-BR", "en": "en"}.get(primary)


def negotiate(accept_language):
    """Return the best supported locale of an Accept-Language header, or None.

    Entries are weighed by their `q` (default 1; malformed weights count as
    0); ties keep the header's order; `*` does not choose.
    """
    if not accept_language or len(accept_language) > 1000:
        return None
    ranked = []
    for position, item in enumerate(accept_language.split(",")[:50]):
        tag, _, params = item.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        locale = normalize(tag)
        if locale and 0 < weight <= 1:
            ranked.append((-weight, position, locale))
    return min(ranked)[2] if ranked else None


def text(key, locale, **params):
    """The page or e-mail text `key` in `locale` (English when missing), formatted."""
    entry = texts.TEXTS.get(key)
    if entry is None:
        raise KeyError(f"no text {key!r} in the catalogue")
    template = entry.get(locale) or entry["en"]
    return template.format(**params) if params else template


def bundle(prefix, locale):
    """Every text whose key starts with `prefix`, in `locale`: what a page's script needs."""
    return {key[len(prefix):]: entry.get(locale) or entry["en"]
            for key, entry in texts.TEXTS.items() if key.startswith(prefix)}


def mail_date(moment, locale):
    """A date and time for an e-mail, in words and in UTC (the reader's zone is unknown there)."""
    from babel.dates import format_datetime

    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return format_datetime(moment, text("mail.date", locale), tzinfo=datetime.timezone.utc,
                           locale=locale.replace("-", "_"))


@functools.lru_cache(maxsize=None)
def _pattern(template):
    parts, last, seen = [], 0, set()
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        parts.append(re.escape(template[last:match.start()]))
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
        seen.add(name)
        last = match.end()
    parts.append(re.escape(template[last:]))
    return re.compile("".join(parts), re.DOTALL)


def error_text(code, message, locale):
    """Translate an error's `message_human` of `code` into `locale`, if catalogued."""
    if locale == DEFAULT or not isinstance(message, str):
        return message
    for pattern, template in messages.PREFIXES:
        prefixed = re.fullmatch(pattern, message, re.DOTALL)
        if prefixed:
            rest = error_text(code, prefixed.group("rest"), locale)
            return template.format(**{**prefixed.groupdict(), "rest": rest}) if rest != prefixed.group("rest") \
                else message
    for table in (messages.ERRORS.get(code, {}), messages.ERRORS["*"]):
        translation = table.get(message)
        if translation is not None:
            return translation.get(locale, message) if isinstance(translation, dict) else translation
        for english, translated in table.items():
            if "{" not in english:
                continue
            match = _pattern(english).fullmatch(message)
            if match:
                return translated.format(**match.groupdict())
    return message


def action(entry, locale):
    """Return a recommended action (dict) with its label and description in `locale`."""
    code = (entry.get("params") or {}).get("issue_code") if isinstance(entry.get("params"), dict) else None
    translated = messages.ACTIONS.get(code) if locale != DEFAULT else None
    if translated is None:
        return entry
    label, description = translated
    return {**entry, "label": label, "description": description}


def log_text(key, params, locale, stored):
    """Render a log row's `message_human` in `locale` from its key and params.

    `stored` (the English text written with the row) is the answer for an
    old row without a key, an unknown key, or params that do not fit.
    """
    entry = logs.LOGS.get(key) if isinstance(key, str) else None
    if entry is None or locale not in entry or (params is not None and not isinstance(params, dict)):
        return stored
    params = dict(params or {})
    if isinstance(params.get("error"), str):
        params["error"] = error_text(params.get("error_code"), params["error"], locale)
    for name, terms in logs.TERMS.items():
        term = terms.get(params[name]) if isinstance(params.get(name), str) else None
        if term is not None:
            params[name] = term[locale]
    try:
        return entry[locale].format(**params)
    except (KeyError, IndexError, ValueError, AttributeError):
        return stored


MAX_DEPTH = 12
#: (code field, text field) pairs translated wherever they appear in a body
TEXT_FIELDS = (("code", "message_human"), ("error_code", "error_human"))
#: a run's last_error_tech starts with its code: "[approval.rejected] ..."
_TAGGED = re.compile(r"\[([\w.-]+)\]")


def localize(media, locale, _depth=0):
    """Translate, in a JSON body, every {code, message_human}, step error, run error, action and log row.

    Returns a new structure; bodies in English are returned unchanged.
    """
    if locale == DEFAULT or _depth > MAX_DEPTH:
        return media
    if isinstance(media, list):
        return [localize(item, locale, _depth + 1) for item in media]
    if not isinstance(media, dict):
        return media
    out = {key: localize(value, locale, _depth + 1) if isinstance(value, (dict, list)) else value
           for key, value in media.items()}
    for code_key, text_key in TEXT_FIELDS:
        if isinstance(out.get(code_key), str) and text_key in out:
            out[text_key] = error_text(out[code_key], out[text_key], locale)
    tagged = _TAGGED.match(out.get("last_error_tech") or "") if isinstance(out.get("last_error_tech"), str) else None
    if tagged and "last_error_human" in out:
        out["last_error_human"] = error_text(tagged.group(1), out["last_error_human"], locale)
    if "message_key" in out and isinstance(out.get("message_human"), str):
        out["message_human"] = log_text(out["message_key"], out.get("message_params"), locale, out["message_human"])
    if "action" in out and "label" in out and isinstance(out.get("params"), dict):
        out = action(out, locale)
    return out

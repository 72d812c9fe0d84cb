"""Formatting filters of the template language: money, numbers, dates, words, images.

Locale-aware with Babel (CLDR data): `{{ total|currency }}` gives
`R$ 1.234,56` in pt_BR and `$1,234.56` in en_US; `{{ signed_on|date }}`
gives `1 de dezembro de 2026`; `{{ total|words(to="currency") }}` spells the
amount with num2words (`mil, duzentos e trinta e quatro reais e cinquenta e
seis centavos`). The locale is the node's `locale`, else `TEMPLATE_LOCALE`,
and every filter takes `locale=` to override it.

`image` turns a base64 or `data:image/...;base64,` value into a picture in
a .docx (docxtpl InlineImage); `template_image('logo', width_mm=40)` (a
global, not a filter) places the image named `logo` stored with the
template. Its bytes are handed to the render's budget by the renderer, so
the template itself never reads storage. Images are never fetched from a URL.
"""
import base64
import binascii
import datetime
import decimal
import io

import babel
from babel import dates as babel_dates
from babel import numbers as babel_numbers

from integrations.errors import TemplateImageInvalid, TemplateImageMissing, TemplateRenderError

MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_WORDS_NUMBER = decimal.Decimal(10) ** 15
IMAGE_MAGIC = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpeg"), (b"GIF87a", "gif"), (b"GIF89a", "gif"))


class Raw:
    """Output a filter made that finalize must not escape (an image's XML)."""

    def __init__(self, xml, text):
        self.xml, self.text = xml, text

    def __str__(self):
        return self.text


def _locale(locale):
    from integrations.templating import Limits, current

    budget = current()
    name = locale or (budget.locale if budget else Limits.locale)
    try:
        return babel.Locale.parse(str(name).replace("-", "_"))
    except (ValueError, TypeError, babel.UnknownLocaleError) as ex:
        raise TemplateRenderError(f"The locale {str(name)[:40]!r} is not known; use e.g. pt_BR or en_US.",
                                  f"{type(ex).__name__}: {ex}") from ex


def as_number(value):
    """Return `value` as a Decimal; strings must be plain numbers such as `1234.56`."""
    if isinstance(value, bool):
        raise TemplateRenderError("A yes/no value cannot be formatted as a number.", f"bool {value}")
    if isinstance(value, (int, decimal.Decimal)):
        return decimal.Decimal(value)
    if isinstance(value, float):
        return decimal.Decimal(repr(value))
    try:
        number = decimal.Decimal(str(value).strip().replace("_", "x"))
    except (decimal.InvalidOperation, ValueError) as ex:
        raise TemplateRenderError(f"{str(value)[:60]!r} is not a number (write it like 1234.56).",
                                  f"not a decimal: {str(value)[:60]!r}") from ex
    if not number.is_finite():
        raise TemplateRenderError(f"{str(value)[:60]!r} is not a number.", "non-finite decimal")
    return number


def currency(value, code=None, locale=None):
    """`1234.56|currency` → `R$ 1.234,56` (pt_BR) or `$1,234.56` (en_US)."""
    loc = _locale(locale)
    if code is None:
        found = babel_numbers.get_territory_currencies(loc.territory) if loc.territory else []
        code = found[0] if found else "USD"
    try:
        return babel_numbers.format_currency(as_number(value), str(code).upper(), locale=loc)
    except (ValueError, babel_numbers.UnknownCurrencyError) as ex:
        raise TemplateRenderError(f"{str(code)[:10]!r} is not a currency code (use e.g. BRL, USD).", str(ex)) from ex


def number(value, decimals=None, locale=None):
    """`1234.5|number(2)` → `1.234,50` (pt_BR) or `1,234.50` (en_US)."""
    amount = as_number(value)
    if decimals is None:
        return babel_numbers.format_decimal(amount, locale=_locale(locale))
    decimals = max(0, min(int(decimals), 20))
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return babel_numbers.format_decimal(amount, format=pattern, locale=_locale(locale), decimal_quantization=True)


def percent(value, locale=None):
    """`0.125|percent` → `12%` / `13%` (CLDR rounding)."""
    return babel_numbers.format_percent(as_number(value), locale=_locale(locale))


def as_date(value):
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value
    text = str(value).strip()
    try:
        if len(text) <= 10:
            return datetime.date.fromisoformat(text)
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as ex:
        raise TemplateRenderError(f"{text[:40]!r} is not a date (write it like 2026-12-01).",
                                  f"not ISO 8601: {text[:40]!r}") from ex


def date(value, format="long", locale=None):  # noqa: A002 - the filter's argument name
    """`"2026-12-01"|date` → `1 de dezembro de 2026`; `format` is short/medium/long/full or a CLDR pattern."""
    if len(str(format)) > 64:
        raise TemplateRenderError("The date format is too long.", f"format of {len(str(format))} characters")
    day = as_date(value)
    day = day.date() if isinstance(day, datetime.datetime) else day
    return babel_dates.format_date(day, format=str(format), locale=_locale(locale))


def datetime_(value, format="medium", locale=None):  # noqa: A002
    """`"2026-12-01T14:30:00Z"|datetime` → `1 de dez. de 2026 14:30:00` (UTC as given)."""
    if len(str(format)) > 64:
        raise TemplateRenderError("The date format is too long.", f"format of {len(str(format))} characters")
    moment = as_date(value)
    if not isinstance(moment, datetime.datetime):
        moment = datetime.datetime.combine(moment, datetime.time())
    return babel_dates.format_datetime(moment, format=str(format), locale=_locale(locale))


def words(value, to="cardinal", currency=None, locale=None):
    """`1234.56|words(to="currency")` → `mil, duzentos e trinta e quatro reais e cinquenta e seis centavos`."""
    from num2words import num2words

    amount = as_number(value)
    if abs(amount) >= MAX_WORDS_NUMBER:
        raise TemplateRenderError("The number is too large to write in words.", f"abs({amount}) >= 10**15")
    if to not in ("cardinal", "ordinal", "currency"):
        raise TemplateRenderError("words() takes to='cardinal', 'ordinal' or 'currency'.", f"to={str(to)[:20]!r}")
    loc = _locale(locale)
    options = {"to": to}
    if to == "currency":
        found = babel_numbers.get_territory_currencies(loc.territory) if loc.territory else []
        options["currency"] = str(currency or (found[0] if found else "USD")).upper()
    value = int(amount) if to == "ordinal" or amount == amount.to_integral_value() and to == "cardinal" else amount
    for lang in (str(loc), loc.language):
        try:
            try:
                return num2words(value, lang=lang, **options)
            except TypeError:  # pt_BR's converter knows only reais and takes no `currency`
                options.pop("currency", None)
                return num2words(value, lang=lang, **options)
        except NotImplementedError:
            continue
        except (ValueError, TypeError, KeyError, OverflowError) as ex:
            raise TemplateRenderError("The number cannot be written in words in this language.", repr(ex)) from ex
    raise TemplateRenderError(f"Numbers in words are not available for {loc}.", f"num2words has no {loc}")


def decode_image(value):
    """Return (bytes, kind) of a base64 or data-URI image; refuse anything else."""
    text = str(value or "").strip()
    if text.startswith("data:"):
        header, _, text = text.partition(",")
        if ";base64" not in header:
            raise TemplateRenderError("The image must be base64 (data:image/png;base64,...).", header[:60])
    if len(text) > MAX_IMAGE_BYTES * 4 // 3 + 16:
        raise TemplateRenderError("The image is larger than 5 MB.", f"{len(text)} base64 characters")
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as ex:
        raise TemplateRenderError("The image field is not base64 data (a URL is never fetched).", str(ex)) from ex
    kind = image_kind(data)
    if kind is None:
        raise TemplateRenderError("The image must be a PNG, JPEG or GIF.", f"starts with {data[:8]!r}")
    return data, kind


def image_kind(data):
    """Return "png", "jpeg" or "gif" from the bytes' signature, or None for anything else."""
    return next((kind for magic, kind in IMAGE_MAGIC if bytes(data[:8]).startswith(magic)), None)


def checked_image(data):
    """Return the content type of an image to store with a template; refuse anything else.

    The same rule as the `image` filter (PNG, JPEG or GIF by their magic
    bytes, at most 5 MB), and python-docx must be able to read its header,
    so a stored image cannot fail a render later.
    """
    from docx.image.image import Image

    if not data:
        raise TemplateImageInvalid("The image is empty.", "empty body")
    if len(data) > MAX_IMAGE_BYTES:
        raise TemplateImageInvalid("The image is larger than 5 MB.", f"{len(data)} bytes")
    kind = image_kind(data)
    if kind is None:
        raise TemplateImageInvalid("The image must be a PNG, JPEG or GIF.", f"starts with {bytes(data[:8])!r}")
    try:
        Image.from_blob(bytes(data))
    except Exception as ex:  # noqa: BLE001 - python-docx raises several errors for a broken image
        raise TemplateImageInvalid(f"The {kind.upper()} image is damaged and cannot be read.",
                                   f"{type(ex).__name__}: {str(ex)[:200]}") from ex
    return f"image/{kind}"


def image(value, width_mm=None, height_mm=None):
    """`{{ logo|image(width_mm=40) }}`: the picture in the .docx, sized in millimetres."""
    budget = _docx_budget("the image filter")
    data, _ = decode_image(value)
    return _picture(budget, data, width_mm, height_mm)


def template_image(name, width_mm=None, height_mm=None):
    """`{{ template_image('logo', width_mm=40) }}`: the image stored with the template under `name`."""
    budget = _docx_budget("template_image()")
    if budget.images is None:
        raise TemplateImageMissing("template_image() places images stored with a DocG template; this template is "
                                   "not stored in DocG, so give the picture as a base64 field with |image.",
                                   "template_image() in a render without stored images")
    data = budget.images.get(name) if isinstance(name, str) else None
    if data is None:
        shown = str(name)[:64]
        raise TemplateImageMissing(f"The template uses the image “{shown}”, which is not stored with it; "
                                   f"upload it with PUT /api/v1/templates/{{id}}/images/{shown}.",
                                   f"template_image({shown!r}): no stored image of that name")
    return _picture(budget, data, width_mm, height_mm)


def _docx_budget(what):
    from integrations.templating import current

    budget = current()
    if budget is None or budget.doc is None:
        raise TemplateRenderError("Images can only be placed in .docx templates.", f"{what} outside docx")
    return budget


def _picture(budget, data, width_mm, height_mm):
    from docx.shared import Mm
    from docxtpl import InlineImage

    budget.spend("output", len(data))
    sizes = {}
    for key, size in (("width", width_mm), ("height", height_mm)):
        if size is not None:
            millimetres = float(size)
            if not 0 < millimetres <= 1000:
                raise TemplateRenderError("Image sizes are between 0 and 1000 mm.", f"{key}_mm={size!r}")
            sizes[key] = Mm(millimetres)
    try:
        xml = str(InlineImage(budget.doc, io.BytesIO(data), **sizes))
    except Exception as ex:  # noqa: BLE001 - python-docx raises several errors for a broken image
        raise TemplateRenderError("The image could not be read.", f"{type(ex).__name__}: {str(ex)[:200]}") from ex
    return Raw(xml, "[image]")


FILTERS = {"currency": currency, "number": number, "percent": percent, "date": date, "datetime": datetime_,
           "words": words, "image": image}

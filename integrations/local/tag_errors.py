"""Find which `{{ tag }}` of a .docx template fails, to name it in the error.

docxtpl renders the whole document XML as one Jinja template, so an error's
line number points into XML nobody wrote. Rendering each tag on its own
against the same data finds the first one that raises; tags that need a
loop variable (undefined on their own) are skipped.
"""
import html
import re

import jinja2

TAG = re.compile(r"\{\{(.*?)\}\}", re.S)
MARKUP = re.compile(r"<[^>]+>")


def failing_tag(doc, context, env, error_type):
    """Return the text of the first tag that raises `error_type`, or None."""
    try:
        source = doc.patch_xml(doc.get_xml())
    except Exception:  # noqa: BLE001 - only an aid for the message
        return None
    for match in TAG.finditer(source):
        expression = html.unescape(MARKUP.sub("", match.group(1))).strip()
        if not expression:
            continue
        try:
            env.from_string("{{ " + expression + " }}").render(context)
        except jinja2.UndefinedError:
            continue
        except error_type:
            return "{{ " + expression + " }}"
        except Exception:  # noqa: BLE001 - another problem: keep looking for the one that was raised
            continue
    return None

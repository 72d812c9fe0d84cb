"""`docg mail`: the emails the mail catcher of `docg up` kept, in the terminal."""
import json
import sys
import time

from integrations.local import maildrop


def show(config, args, out=None):
    out = out or sys.stdout
    folder = maildrop.folder_of(config.var_dir)
    if args.name:
        raw = maildrop.open_message(folder, args.name)
        if raw is None:
            print(f"no message {args.name!r} in {folder}", file=sys.stderr)
            return 1
        out.write(raw.decode(errors="replace"))
        return 0
    found = _wait(folder, args.wait, links=args.approval_links)
    if args.json:
        out.write(json.dumps([m.as_dict() for m in found], indent=2) + "\n")
    elif args.approval_links:
        out.writelines(f"{m.approval_link}\n" for m in found if m.approval_link)
    elif not found:
        out.write(f"no email caught yet in {folder}\n")
    else:
        for m in found:
            out.write(f"{m.received_at}  {', '.join(m.recipients):<30}  {m.subject}\n"
                      f"{'':22}{m.name}{'  approval: ' + m.approval_link if m.approval_link else ''}\n")
        out.write(f"({len(found)} in {folder}; `docg mail NAME` prints one)\n")
    return 0


def _wait(folder, seconds, *, links):
    """The caught messages, waiting up to `seconds` for one (with an approval link if `links`)."""
    deadline = time.monotonic() + (seconds or 0)
    while True:
        found = maildrop.messages(folder)
        if any(m.approval_link for m in found) if links else found:
            return found
        if time.monotonic() >= deadline:
            return found
        time.sleep(0.2)

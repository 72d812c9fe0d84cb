"""The `docg` command: migrate, org, up, demo, run, tail, mail, down."""
import argparse
import json
import sys

import settings as settings_module


def _settings():
    """Settings with the embedded servers started when no URL is given."""
    from storage import embedded

    return embedded.with_servers(settings_module.load())


def _storage():
    from storage import bootstrap

    config = _settings()
    bootstrap.configure_database(config)
    return config


def cmd_migrate(args):
    from storage import migrations
    from storage.db import connection

    _storage()
    with connection() as db:
        done = migrations.apply(db)
    print(f"applied {len(done)} migration(s): {done}" if done else "schema is up to date")


def cmd_org_create(args):
    from storage import tenancy
    from storage.db import connection

    from storage import i18n

    config = _storage()
    locale = i18n.normalize(args.locale or config.default_locale)
    if locale is None:
        raise SystemExit(f"--locale must be one of {', '.join(i18n.LOCALES)}")
    with connection():
        organization, token = tenancy.create_organization(args.name, email=args.email, locale=locale)
    if args.json:
        print(json.dumps({"organization_id": str(organization.id), "token": token}))
    elif args.env:
        from cli.client import default_url

        print(f"export DOCG_URL={default_url()} DOCG_ORG={organization.id} DOCG_TOKEN={token}")
    else:
        print(f"organization_id: {organization.id}\ntoken:           {token}")


def cmd_up(args):
    from cli import processes

    return processes.up(_settings(), port=args.port)


def cmd_demo(args):
    from cli import demo

    return demo.main(_settings(), keep=args.keep)


def cmd_run(args):
    from cli import client

    return client.run(args.workflow_id, json.loads(args.data), follow_events=not args.no_follow)


def cmd_tail(args):
    from cli import client

    return client.tail(args.execution_id, last_event_id=args.last_event_id)


def cmd_audit_verify(args):
    from storage import audit
    from storage.db import connection

    _storage()
    with connection():
        broken = audit.verify(args.organization)
    if broken is None:
        print("audit trail intact")
        return 0
    print(f"audit trail broken at row {broken.id} ({broken.action}, organization {broken.organization_id}, "
          f"{broken.created_at.isoformat()}): its hash does not match its content or the previous row")
    return 1


def cmd_retention(args):
    from storage import retention
    from storage.bootstrap import redis_client
    from storage.db import connection

    config = _storage()
    with connection():
        report = retention.apply(config, redis=None if args.dry_run else redis_client(config.redis_url),
                                 dry_run=args.dry_run)
    print(json.dumps(report, indent=2, default=str))
    return 0


def cmd_org_retention(args):
    import uuid

    from storage import retention
    from storage.db import connection
    from storage.errors import StorageError

    _storage()
    try:
        organization_id = str(uuid.UUID(args.organization))
        days = None if args.days == "default" else int(args.days)
        with connection():
            organization = retention.set_days(organization_id, days)
    except (ValueError, StorageError) as ex:
        print(f"docg org retention: {getattr(ex, 'message_human', None) or ex}", file=sys.stderr)
        return 2
    shown = organization.retention_days or f"default (RETENTION_DAYS={settings_module.load().retention_days})"
    print(f"organization {organization.id} keeps ended runs {shown} days")
    return 0


def cmd_backup(args):
    from storage import backup

    config = settings_module.load()
    print(f"wrote {backup.dump(config.database_url, args.file)}")


def cmd_restore(args):
    from storage import backup

    target = args.database_url or settings_module.load().database_url
    backup.restore(args.file, target)
    print(f"restored {args.file}; now run `docg migrate` against it if it came from an older release")


def cmd_keys_rotate(args):
    from storage import connections
    from storage.db import connection

    _storage()
    with connection():
        count = connections.rotate_keys()
    print(f"re-encrypted {count} secret(s) with the current key")


def cmd_keys_generate(args):
    from storage.crypto import generate_key

    print(generate_key())


def cmd_apps_doc(args):
    from cli import appsdoc

    text = appsdoc.render()
    if args.write:
        __import__("pathlib").Path(args.write).write_text(text + "\n")
        print(f"wrote {args.write}")
    else:
        print(text)


def cmd_down(args):
    from pathlib import Path

    from storage import embedded

    var_dir = Path(settings_module.load().var_dir)
    # NOTE: the test suite's embedded servers live under ROOT/var/test whatever VAR_DIR says.
    for folder in dict.fromkeys([var_dir, var_dir / "test", settings_module.ROOT / "var" / "test"]):
        embedded.stop(folder)
    print("embedded servers stopped")


def cmd_mail(args):
    from cli import mail

    return mail.show(settings_module.load(), args)


def cmd_health(args):
    from cli import health

    healthy, seen = health.check(args.role, port=settings_module.load().port)
    print(f"{args.role}: {'healthy' if healthy else 'UNHEALTHY'} ({seen})")
    return 0 if healthy else 1


def parser():
    root = argparse.ArgumentParser(prog="docg", description="DocG: document workflows on Dramatiq.")
    sub = root.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply schema migrations").set_defaults(func=cmd_migrate)
    org = sub.add_parser("org", help="organizations").add_subparsers(dest="org_command", required=True)
    create = org.add_parser("create", help="create an organization and print its API token")
    create.add_argument("name")
    create.add_argument("--email")
    create.add_argument("--locale", help="language of its pages, e-mails and API texts: en or pt-BR "
                                         "(default DEFAULT_LOCALE)")
    create.add_argument("--json", action="store_true")
    create.add_argument("--env", action="store_true",
                        help="print `export DOCG_URL=... DOCG_ORG=... DOCG_TOKEN=...` for eval in a shell")
    create.set_defaults(func=cmd_org_create)
    keep_org = org.add_parser("retention", help="set how many days an organization keeps ended runs")
    keep_org.add_argument("organization")
    keep_org.add_argument("days", help="whole days, or `default` for RETENTION_DAYS")
    keep_org.set_defaults(func=cmd_org_retention)
    up = sub.add_parser("up", help="run web + worker + clock on the embedded default")
    up.add_argument("--port", type=int)
    up.set_defaults(func=cmd_up)
    demo = sub.add_parser("demo", help="run a sample workflow end to end and watch it live")
    demo.add_argument("--keep", action="store_true", help="leave web and worker running afterwards")
    demo.set_defaults(func=cmd_demo)
    run = sub.add_parser("run", help="start a run through the API (DOCG_URL, DOCG_TOKEN, DOCG_ORG)")
    run.add_argument("workflow_id")
    run.add_argument("--data", default="{}", help="trigger data as JSON")
    run.add_argument("--no-follow", action="store_true")
    run.set_defaults(func=cmd_run)
    tail = sub.add_parser("tail", help="follow a run's events (DOCG_URL, DOCG_TOKEN, DOCG_ORG)")
    tail.add_argument("execution_id")
    tail.add_argument("--last-event-id", default=None)
    tail.set_defaults(func=cmd_tail)
    audit = sub.add_parser("audit", help="the audit trail").add_subparsers(dest="audit_command", required=True)
    verify = audit.add_parser("verify", help="check the hash chain; exit 1 at the first tampered row")
    verify.add_argument("--organization")
    verify.set_defaults(func=cmd_audit_verify)
    keep = sub.add_parser("retention", help="delete ended runs past retention and drop old audit months")
    keep.add_argument("--dry-run", action="store_true", help="report what would go; delete nothing")
    keep.set_defaults(func=cmd_retention)
    dump = sub.add_parser("backup", help="pg_dump the database (PostgreSQL is the source of truth)")
    dump.add_argument("file")
    dump.set_defaults(func=cmd_backup)
    load = sub.add_parser("restore", help="pg_restore a `docg backup` file into an empty database")
    load.add_argument("file")
    load.add_argument("--database-url", help="target database (default DATABASE_URL)")
    load.set_defaults(func=cmd_restore)
    keys = sub.add_parser("keys", help="encryption keys").add_subparsers(dest="keys_command", required=True)
    keys.add_parser("rotate", help="re-encrypt every secret with the first ENCRYPTION_KEY").set_defaults(
        func=cmd_keys_rotate)
    keys.add_parser("generate", help="print a new kid:key entry for ENCRYPTION_KEY").set_defaults(
        func=cmd_keys_generate)
    apps = sub.add_parser("apps", help="the app catalogue").add_subparsers(dest="apps_command", required=True)
    doc = apps.add_parser("doc", help="print (or --write) docs/apps.md from the registry")
    doc.add_argument("--write", metavar="PATH")
    doc.set_defaults(func=cmd_apps_doc)
    sub.add_parser("down", help="stop the embedded PostgreSQL and Redis (and the test suite's, under var/test)"
                   ).set_defaults(func=cmd_down)
    mail = sub.add_parser("mail", help="list the emails the mail catcher of `docg up` kept (VAR_DIR/mail)")
    mail.add_argument("name", nargs="?", help="print this message (a name from the list)")
    mail.add_argument("--json", action="store_true", help="the list as JSON")
    mail.add_argument("--approval-links", action="store_true", help="print only the approval links, oldest first")
    mail.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                      help="wait up to SECONDS for a message (an approval link with --approval-links)")
    mail.set_defaults(func=cmd_mail)
    health = sub.add_parser("health", help="exit 0 when this container's role is healthy (docker-compose)")
    health.add_argument("role", choices=["web", "worker", "clock"])
    health.set_defaults(func=cmd_health)
    return root


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except settings_module.InsecureSettings as ex:
        print(f"docg: refusing to start: {ex}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

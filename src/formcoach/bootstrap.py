"""Start-up of any entry point: the data dir, the database migrations and the first admin.

The CLI, the offline runner and the tests call it; it sits apart from the CLI so that nothing
has to import the command line to get a ready database.
"""

from __future__ import annotations

from formcoach.kit.settings import Settings


def prepare(settings: Settings) -> str | None:
    """Create the data dir, migrate the database and make sure an admin exists.

    Returns a newly generated admin password (to print once), if one was generated.
    """
    from formcoach.accounts.service import ensure_admin
    from formcoach.kit.db import session_scope
    from formcoach.kit.migrate import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.db_url)
    with session_scope(settings.db_url) as session:
        return ensure_admin(session, settings.admin_password, settings)

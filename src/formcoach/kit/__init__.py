"""Shared plumbing: settings, database, storage, errors, i18n, video I/O."""

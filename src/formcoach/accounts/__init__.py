"""Accounts: users, API tokens, web sessions, sign-in throttling and password rules."""

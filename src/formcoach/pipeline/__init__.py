"""Run execution: the stage table, the orchestrator, and the in-process and Celery runners."""

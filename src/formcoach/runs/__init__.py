"""The run aggregate: a user's uploaded clip, its stages and its status.

Models, the run service functions (ownership checks, create, view, status, lists, delete) and
their schemas. Everything that works on runs (the gateway's routes, the pipeline, retention,
video generation, the report) depends on this package, never on the gateway.
"""

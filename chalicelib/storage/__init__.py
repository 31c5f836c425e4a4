"""DynamoDB storage through PynamoDB. Models stay inside this package; the rest of
the code gets the domain's dataclasses from the functions of each module.

Importing the package registers every model; `bind(settings)` points them at
their tables where a request or event enters.
"""
from chalicelib.storage import (  # noqa: F401 (registers the models)
    appointments,
    claims,
    connections,
    counters,
    departments,
    doctors,
    patients,
    queue_entries,
    service_points,
    users,
)
from chalicelib.storage.binding import MODELS, bind, create_tables  # noqa: F401

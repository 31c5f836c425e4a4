"""DynamoDB storage through PynamoDB. Models stay inside this package; the
rest of the code gets plain dataclasses from the functions of each module."""
from chalicelib.storage import counters, departments, doctors, patients, users  # noqa: F401 (registers models)
from chalicelib.storage import appointments  # noqa: F401 (registers models)
from chalicelib.storage import queue  # noqa: F401 (registers models)
from chalicelib.storage.base import MODELS, bind, client, create_tables  # noqa: F401

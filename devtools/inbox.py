"""The local inbox: `make run` prints each SMS and email the app sends, as the patient would
get it, so a developer sees "your turn" messages and codes without a phone or a mailbox.

The app's own log lines never hold a phone number, an address or a text (chalicelib/messaging.py);
this is the developer's simulated phone, printed by the local server only. It listens through
botocore's public event hooks on boto3's default session, from which the app's SNS and SES
clients are made (chalicelib.messaging), so nothing of the app is patched.
"""
from __future__ import annotations

import sys
from collections.abc import Callable

PREFIX = "Message: "


def _printer(write: Callable[[str], object]) -> Callable[..., None]:
    def show(params: dict, model, **_) -> None:
        if model.name == "Publish" and params.get("PhoneNumber"):
            write(f"{PREFIX}SMS sent to {params['PhoneNumber']}: {params.get('Message', '')}\n")
        elif model.name == "SendEmail":
            to = ", ".join(params.get("Destination", {}).get("ToAddresses", []))
            body = params.get("Message", {}).get("Body", {}).get("Text", {}).get("Data", "")
            write(f"{PREFIX}Email sent to {to}: {body}\n")
    return show


def install(write: Callable[[str], object] | None = None) -> None:
    """Print every SMS and email sent through boto3's default session from now on (before the
    app makes its clients: a client copies the session's hooks when it is made)."""
    import boto3

    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    handler = _printer(write or _stdout)
    events = boto3.DEFAULT_SESSION.events
    events.register("provide-client-params.sns.Publish", handler, unique_id="dqs-inbox-sns")
    events.register("provide-client-params.ses.SendEmail", handler, unique_id="dqs-inbox-ses")


def _stdout(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()

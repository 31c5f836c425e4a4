"""Where `make run` sends patients' "your turn" messages: the embedded moto's SNS and SES (moto
serves them too), each one printed to the console by the local inbox (devtools/inbox.py);
DQS_MESSAGING_ENDPOINT may name another endpoint."""
from __future__ import annotations

import os

from devtools import inbox


def local_messaging() -> list[str]:
    """Point the app's messages at the local endpoint, print each one sent; notes to print."""
    endpoint = os.environ.setdefault("DQS_MESSAGING_ENDPOINT", os.environ["DQS_DYNAMODB_ENDPOINT"])
    sender = os.environ.setdefault("DQS_EMAIL_SENDER", "queue@clinic.local")
    inbox.install()
    try:
        import boto3

        boto3.client("ses", endpoint_url=endpoint, region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
                     ).verify_email_identity(EmailAddress=sender)
    except Exception as exc:  # SMS still go; email needs the sender verified
        return [f"Could not verify the email sender {sender} at {endpoint}: {exc}"]
    return [f"Patients' messages go to the SNS and SES of {endpoint} (sender {sender}), each printed here."]

"""Messages to patients: SMS through SNS, email through SES. The clients are made at first use
(boto3 is imported only by the function that sends), against DQS_MESSAGING_ENDPOINT when set
(`make run`: the embedded moto server), else AWS.

The log lines and counts say that a message went or failed, with the provider's message id:
never the phone number, the address or the text."""
from __future__ import annotations

import functools
import logging

from chalicelib import telemetry
from chalicelib.errors import ConfigurationError
from chalicelib.settings import Settings, get_settings

log = logging.getLogger("dqs.messages")


@functools.cache
def _client(service: str, region: str, endpoint: str | None):
    import boto3
    from botocore.config import Config

    return boto3.client(service, region_name=region, endpoint_url=endpoint,
                        config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2}))


def _for(service: str, settings: Settings):
    return _client(service, settings.region, settings.messaging_endpoint)


def _sent(kind: str, send) -> None:
    """Send one message, count it as sent (SmsSent or EmailsSent, and MessagesSent) or failed, and log
    its provider's message id."""
    try:
        answer = send()
    except Exception:
        telemetry.count("MessagesFailed")
        raise
    telemetry.count("SmsSent" if kind == "SMS" else "EmailsSent")
    telemetry.count("MessagesSent")
    log.info("%s sent: message id %s", kind, answer.get("MessageId"))


def send_sms(phone: str, text: str) -> None:
    sns = _for("sns", get_settings())
    _sent("SMS", lambda: sns.publish(PhoneNumber=phone, Message=text))


def send_email(address: str, subject: str, text: str) -> None:
    settings = get_settings()
    if not settings.email_sender:
        telemetry.count("MessagesFailed")
        raise ConfigurationError("DQS_EMAIL_SENDER is not set: no email can be sent.")
    ses = _for("ses", settings)
    _sent("Email", lambda: ses.send_email(
        Source=settings.email_sender, Destination={"ToAddresses": [address]},
        Message={"Subject": {"Data": subject}, "Body": {"Text": {"Data": text}}}))

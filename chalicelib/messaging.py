"""Messages to patients: SMS through SNS, email through SES. The clients are made at first use
(boto3 is imported only by the function that sends), against DQS_MESSAGING_ENDPOINT when set
(`make run`: the embedded moto server), else AWS."""
from __future__ import annotations

import functools
import logging

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


def send_sms(phone: str, text: str) -> None:
    _for("sns", get_settings()).publish(PhoneNumber=phone, Message=text)
    log.info("SMS sent to %s: %s", phone, text)


def send_email(address: str, subject: str, text: str) -> None:
    settings = get_settings()
    if not settings.email_sender:
        raise ConfigurationError("DQS_EMAIL_SENDER is not set: no email can be sent.")
    _for("ses", settings).send_email(Source=settings.email_sender, Destination={"ToAddresses": [address]},
                                     Message={"Subject": {"Data": subject}, "Body": {"Text": {"Data": text}}})
    log.info("Email sent to %s: %s", address, text)

"""The deployment package as the deploy tests see it: where it is built from, for which stage, and
what CloudFormation's SAM transform makes of its template (offline). Its build is a fixture of
tests/deploy/conftest.py, made once per test process for every module that checks it."""
from __future__ import annotations

import json
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
STAGE = "prod"
SENTINEL_SECRET = "sentinel-jwt-secret-never-shipped-0123456789abcdef"


def of_type(resources: dict, kind: str) -> dict:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


class _NoManagedPolicies:
    """The translator asks IAM for AWS managed policies only when a function names one."""

    def load(self) -> dict:
        return {}


def sam_transform(template: dict) -> dict:
    """What CloudFormation's AWS::Serverless transform makes of a template, offline.

    The code is first given an S3 address, as `aws cloudformation package` does.
    """
    from samtranslator.translator.transform import transform

    text = json.dumps(template).replace('"./deployment.zip"', '"s3://artifacts/deployment.zip"')
    return transform(json.loads(text), {}, _NoManagedPolicies())

"""`make package`: the deployable artifact for each stage, built offline.

For every stage in .chalice/config.json this writes build/package/<stage>/:
  sam.json          chalice's SAM template merged with this system's resources
  deployment.zip    the Lambda code (app, chalicelib, pynamodb, PyJWT, argon2, tzdata)
  resources.json    the merged-in template: generated here from the PynamoDB models

By job:
  tables.py     each PynamoDB model registered in chalicelib.storage as a CloudFormation table
                (keys, attribute types, indexes, stream, TTL), so a model change changes the tables;
  iam.py        what each function may do (written out by hand, checked both ways against the calls
                the tests record) and the per-function policies made from it;
  template.py   the template merged into chalice's: tables, policies, the APIs' stage settings,
                the stream's event source, outputs;
  build.py      the slim build copy (pynamodb vendored without boto3/botocore, which the Lambda
                runtime has), `chalice package`, bytecode, cfn-lint;
  __main__.py   the command line (`python -m devtools.package`).

No AWS account is needed: credentials are removed from chalice's environment
and a region is set if none is.
"""
from devtools.package.build import build, chalice_package, prepare_project
from devtools.package.iam import (
    FUNCTION_ACCESS,
    LOCAL_ONLY,
    READS_ENTRIES_STREAM,
    SENDS_TO_CONNECTIONS,
    STREAM_ACTIONS,
    function_roles,
    grants,
)
from devtools.package.template import GATEWAY_RESPONSES, WEBSOCKET_URL, resources_template

__all__ = ["FUNCTION_ACCESS", "GATEWAY_RESPONSES", "LOCAL_ONLY", "READS_ENTRIES_STREAM", "SENDS_TO_CONNECTIONS",
           "STREAM_ACTIONS", "WEBSOCKET_URL", "build", "chalice_package", "function_roles", "grants",
           "prepare_project", "resources_template"]

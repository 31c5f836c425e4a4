"""The domain's storage interface: one small Protocol per aggregate.

The domain calls these; `chalicelib.storage` implements them on DynamoDB and
`tests.support.fakes` in memory. A write that loses a condition raises
`errors.ConditionFailed(labels)`, whichever implementation is installed.
"""

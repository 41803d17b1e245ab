"""Fixtures of the data tests: moto's S3 server, shared with the blob tests."""

from tests.blobs.conftest import aws_credentials, moto_server

__all__ = ["aws_credentials", "moto_server"]

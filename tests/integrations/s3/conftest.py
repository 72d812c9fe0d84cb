import pytest

from tests.integrations.s3.moto_s3 import MotoS3


@pytest.fixture(scope="package")
def moto_s3():
    server = MotoS3().start()
    yield server
    server.stop()

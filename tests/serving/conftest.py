import pytest

from keras_seq.export import export
from tests.export.toy_models import make_classifier


@pytest.fixture(scope="session")
def toy_version_dir(tmp_path_factory):
    """One export of ``make_classifier(seed=1)`` (BASE/toy/1), for tests to copy, not alter."""
    return export(make_classifier(seed=1), tmp_path_factory.mktemp("toy_export"), name="toy")

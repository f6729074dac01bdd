"""Round-9 audit of the pipelines: labels given as numpy integers."""

import numpy as np
import pytest

from keras_seq.pipelines import classification_dataset


def test_classification_takes_numpy_integer_labels(tokenizers):
    # Labels mapped to class ids by numpy (`np.unique(labels, return_inverse=True)`, or
    # scikit-learn's `LabelEncoder`, as `read_classification_csv` returns str labels) are
    # np.int64. Before: "`examples` must hold (str, int) pairs; entry 0 is ('Ja.', np.int64(1))".
    _, english = tokenizers
    texts = ["I am tired.", "Good morning!", "He had to do it."]
    _, labels = np.unique(["neg", "pos", "pos"], return_inverse=True)
    dataset, statistics = classification_dataset(
        list(zip(texts, labels, strict=True)), english, 3, shuffle=False
    )
    assert statistics.num_kept == 3
    np.testing.assert_array_equal(next(iter(dataset))[1], [0, 1, 1])
    with pytest.raises(ValueError, match="entry 1 has the label -1; labels are class ids"):
        classification_dataset([("Good.", np.uint8(0)), ("Bad.", np.int64(-1))], english, 2)
    # A bool is still not a class id.
    with pytest.raises(TypeError, match=r"must hold \(str, int\) pairs"):
        classification_dataset([("Good.", np.bool_(True))], english, 2)

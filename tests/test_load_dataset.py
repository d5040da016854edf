"""load_dataset: the three file formats, and a clear DatasetError for every way a file can be wrong."""

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from nnreg_keras.data import Dataset, load_dataset
from nnreg_keras.exceptions import DatasetError

RNG = np.random.default_rng(0)
X, Y = RNG.normal(size=(7, 3)), np.array([0, 1, 1, 0, 1, 0, 0])
XT, YT = RNG.normal(size=(4, 3)), np.array([1, 0, 1, 1])


def write_mat(path: Path, **overrides) -> Path:
    arrays = {
        "X": X,
        "y": Y[:, None].astype("uint8"),
        "Xval": XT,
        "yval": YT[:, None].astype("uint8"),
    }
    arrays.update(overrides)
    scipy.io.savemat(str(path), {k: v for k, v in arrays.items() if v is not None})
    return path


def write_npz(path: Path, **overrides) -> Path:
    arrays = {"x_train": X, "y_train": Y, "x_test": XT, "y_test": YT}
    arrays.update(overrides)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def write_csv(
    path: Path, header: str = "height,weight,age,y,split", rows: list[str] | None = None
) -> Path:
    if rows is None:
        rows = [
            ",".join(repr(float(v)) for v in x) + f",{y},train" for x, y in zip(X, Y, strict=True)
        ]
        rows += [
            ",".join(repr(float(v)) for v in x) + f",{y},test" for x, y in zip(XT, YT, strict=True)
        ]
    path.write_text("\n".join([header] + rows) + "\n")
    return path


@pytest.mark.parametrize(
    "writer, name", [(write_mat, "course.mat"), (write_npz, "mine.npz"), (write_csv, "table.csv")]
)
def test_each_format_gives_the_same_dataset(tmp_path: Path, writer, name: str):
    data = load_dataset(writer(tmp_path / name))
    assert isinstance(data, Dataset) and data.name == Path(name).stem
    assert data.x_train.dtype == data.y_train.dtype == np.float32
    np.testing.assert_allclose(data.x_train, X, rtol=1e-6)
    np.testing.assert_array_equal(data.y_train, Y)
    np.testing.assert_allclose(data.x_test, XT, rtol=1e-6)
    np.testing.assert_array_equal(data.y_test, YT)
    assert data.y_train.shape == (7,) and data.n_features == 3
    expected = ("height", "weight", "age") if name.endswith(".csv") else ("x1", "x2", "x3")
    assert data.feature_names == expected
    assert data.info["format"] == Path(name).suffix[1:]


def test_npz_feature_names_and_string_paths(tmp_path: Path):
    path = write_npz(tmp_path / "named.npz", feature_names=np.array(["a", "b", "c"]))
    assert load_dataset(str(path)).feature_names == ("a", "b", "c")


def test_csv_column_order_is_free(tmp_path: Path):
    path = write_csv(tmp_path / "order.csv", "split,y,u", ["train,1,0.5", "test,0,-1", "train,0,2"])
    data = load_dataset(path)
    np.testing.assert_array_equal(data.x_train.ravel(), [0.5, 2])
    np.testing.assert_array_equal(data.y_train, [1, 0])
    assert data.feature_names == ("u",)


def error(path: Path) -> str:
    with pytest.raises(DatasetError) as err:
        load_dataset(path)
    assert str(path) in str(err.value), "the message must name the file"
    return str(err.value)


def test_missing_file(tmp_path: Path):
    assert "does not exist" in error(tmp_path / "nowhere.mat")


@pytest.mark.parametrize("name", ["data.txt", "data", "data.json"])
def test_wrong_extension(tmp_path: Path, name: str):
    (tmp_path / name).write_text("1,2,3\n")
    message = error(tmp_path / name)
    assert "not supported" in message and ".mat, .npz, .csv" in message


@pytest.mark.parametrize("name", ["empty.mat", "empty.npz", "empty.csv"])
def test_empty_file(tmp_path: Path, name: str):
    (tmp_path / name).write_bytes(b"")
    assert "is empty" in error(tmp_path / name)


@pytest.mark.parametrize("name", ["broken.mat", "broken.npz"])
def test_file_that_is_not_what_its_extension_says(tmp_path: Path, name: str):
    (tmp_path / name).write_text("this is not a binary file")
    assert "cannot be read" in error(tmp_path / name)


def test_missing_keys(tmp_path: Path):
    message = error(write_mat(tmp_path / "d.mat", Xval=None, yval=None))
    assert "lacks Xval, yval" in message and "keys X, y" in message
    assert "lacks y_test" in error(write_npz(tmp_path / "d.npz", y_test=None))
    assert "lacks split" in error(write_csv(tmp_path / "d.csv", "a,b,y", ["1,2,0"]))


def test_shape_mismatches(tmp_path: Path):
    message = error(
        write_mat(tmp_path / "columns.mat", X=X.T)
    )  # examples as columns, as in the course's code
    assert "shape (3, 7)" in message and "one label per row" in message
    assert "one label per row" in error(write_npz(tmp_path / "short.npz", y_train=Y[:5]))
    assert "2 test features" in error(write_npz(tmp_path / "features.npz", x_test=XT[:, :2]))
    assert "expected (examples, features)" in error(
        write_npz(tmp_path / "flat.npz", x_train=X.ravel())
    )
    assert "at least one example" in error(
        write_npz(tmp_path / "none.npz", x_test=np.zeros((0, 3)), y_test=np.zeros(0))
    )
    assert "2 feature names for 3 features" in error(
        write_npz(tmp_path / "names.npz", feature_names=np.array(["a", "b"]))
    )
    assert "4 values for 5 columns" in error(
        write_csv(tmp_path / "ragged.csv", rows=["1,2,0,train"])
    )
    assert "no feature columns" in error(
        write_csv(tmp_path / "nofeatures.csv", "y,split", ["1,train"])
    )


def test_non_binary_labels(tmp_path: Path):
    message = error(write_npz(tmp_path / "pm.npz", y_train=2 * Y - 1))
    assert "labels -1, 1" in message and "0 and 1" in message
    assert "labels 0, 1, 2" in error(
        write_mat(tmp_path / "three.mat", yval=np.array([[0], [1], [2], [1]]))
    )


def test_nans(tmp_path: Path):
    x = X.copy()
    x[2, 1] = np.nan
    assert "X holds 1 NaN or infinite values" in error(write_mat(tmp_path / "nan.mat", X=x))
    assert "y_test holds 1 NaN" in error(
        write_npz(tmp_path / "nan.npz", y_test=np.array([1, np.nan, 0, 1]))
    )
    assert "NaN" in error(write_csv(tmp_path / "nan.csv", rows=["1,nan,2,0,train", "1,2,3,1,test"]))


def test_csv_values(tmp_path: Path):
    assert "line 3" in error(
        write_csv(tmp_path / "text.csv", rows=["1,2,3,0,train", "1,tall,3,1,test"])
    )
    assert "line 2" in error(write_csv(tmp_path / "blank.csv", rows=["1,,3,0,train"]))
    message = error(write_csv(tmp_path / "split.csv", rows=["1,2,3,0,train", "1,2,3,1,validation"]))
    assert "'validation'" in message and "train, test" in message


def test_float64_keeps_full_precision(tmp_path: Path):
    data = load_dataset(write_mat(tmp_path / "course.mat"), dtype="float64")
    assert data.x_train.dtype == np.float64
    np.testing.assert_array_equal(data.x_train, X)


def test_training_labels_of_one_class_are_refused(tmp_path: Path):
    path = write_csv(tmp_path / "one.csv", "split,y,u", ["train,1,0.5", "train,1,2", "test,0,-1"])
    assert error(path).endswith(
        "every label in train labels 'y' is 1; expected examples of both classes, 0 and 1"
    )

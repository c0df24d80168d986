"""The ``fastbp`` command, end to end in subprocesses: train and predict round trips, safe model
files, and every bad input ending in one line and exit status 2."""

import os
import subprocess
import sys

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
skops_io = pytest.importorskip("skops.io")

from fastbp import BackpropClassifier, BackpropRegressor  # noqa: E402
from fastbp.cli import CommandError, load_model  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def fastbp(*args, cwd):
    """Run the command as an installed user would (``python -m fastbp.cli`` is the same entry point)."""
    return subprocess.run([sys.executable, "-m", "fastbp.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    rng = np.random.RandomState(0)
    X = rng.normal(size=(240, 4))
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    frame["label"] = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    frame["value"] = X[:, 0] - 2 * X[:, 2]
    frame["row_id"] = np.arange(1000, 1240)
    frame.to_csv(root / "train.csv", index=False)
    frame.drop(columns=["label", "value"]).to_parquet(root / "new.parquet")
    frame.assign(a=["x"] * 240).to_csv(root / "text.csv", index=False)
    return root, frame


def test_train_then_predict_labels_and_probabilities(tables):
    root, frame = tables
    run = fastbp("train", "train.csv", "--target", "label", "--drop", "row_id", "--drop", "value",
                 "--set", "hidden_layer_sizes=(16,)", "--set", "activation=tanh", "--set", "max_iter=60",
                 "--set", "random_state=0", "--output", "model.skops", "--quiet", cwd=root)
    assert run.returncode == 0, run.stderr
    assert "validation accuracy:" in run.stdout
    model = load_model(str(root / "model.skops"))
    assert model.activation == "tanh" and model.hidden_layer_sizes == (16,)
    assert list(model.feature_names_in_) == ["a", "b", "c", "d"]
    X = frame[["a", "b", "c", "d"]]
    run = fastbp("predict", "model.skops", "new.parquet", "--id", "row_id", cwd=root)
    assert run.returncode == 0, run.stderr
    out = pd.read_csv(pd.io.common.StringIO(run.stdout))
    assert list(out.columns) == ["row_id", "prediction"]
    np.testing.assert_array_equal(out["row_id"], frame["row_id"])
    np.testing.assert_array_equal(out["prediction"], model.predict(X))
    run = fastbp("predict", "model.skops", "new.parquet", "--proba", "--output", "proba.csv", cwd=root)
    assert run.returncode == 0 and run.stdout == ""
    proba = pd.read_csv(root / "proba.csv")
    assert list(proba.columns) == ["proba_no", "proba_yes"]
    np.testing.assert_allclose(proba.to_numpy(), model.predict_proba(X), rtol=1e-12)


def test_regressor_round_trip(tables):
    root, frame = tables
    run = fastbp("train", "train.csv", "--target", "value", "--regressor", "--drop", "label", "--drop", "row_id",
                 "--set", "max_iter=80", "--output", "reg.skops", "--quiet", cwd=root)
    assert run.returncode == 0, run.stderr
    assert "validation R^2:" in run.stdout
    run = fastbp("predict", "reg.skops", "train.csv", cwd=root)
    assert run.returncode == 0, run.stderr
    model = load_model(str(root / "reg.skops"))
    out = pd.read_csv(pd.io.common.StringIO(run.stdout))
    np.testing.assert_allclose(out["prediction"], model.predict(frame[["a", "b", "c", "d"]]), rtol=1e-12)


@pytest.mark.parametrize("args,message", [
    (("train", "missing.csv", "--target", "label", "--output", "m.skops"), "no such file: missing.csv"),
    (("train", "train.csv", "--target", "nope", "--output", "m.skops"), "no column 'nope'"),
    (("train", "text.csv", "--target", "label", "--output", "m.skops"), "column 'a' of text.csv is not numeric"),
    (("train", "train.csv", "--target", "label", "--set", "bogus=3", "--output", "m.skops"),
     "unknown parameter 'bogus' for BackpropClassifier"),
    (("train", "train.csv", "--target", "label", "--set", "max_iter", "--output", "m.skops"), "--set takes NAME=VALUE"),
    (("train", "train.csv", "--target", "label", "--drop", "row_id", "--drop", "value", "--set", "alpha=-1",
      "--output", "m.skops"), "training failed: The 'alpha' parameter"),
    (("train", "train.csv", "--target", "label", "--output", "m.txt"), "--output must end in .skops"),
    (("predict", "train.csv", "new.parquet"), "train.csv is not a skops model file"),
    (("predict", "absent.skops", "new.parquet"), "no such model file: absent.skops"),
    (("predict", "model.pkl", "new.parquet"), "is a pickle, which can run arbitrary code"),
])
def test_bad_input_is_one_line_and_status_2(tables, args, message):
    root, _ = tables
    (root / "model.pkl").write_bytes(b"not read")
    run = fastbp(*args, cwd=root)
    assert run.returncode == 2, (run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastbp: error: ") and message in lines[0], run.stderr
    assert "Traceback" not in run.stderr


def test_predicting_with_missing_columns_names_them(tables):
    root, frame = tables
    run = fastbp("train", "train.csv", "--target", "label", "--drop", "row_id", "--drop", "value",
                 "--set", "max_iter=5", "--output", "small.skops", "--quiet", cwd=root)
    assert run.returncode == 0, run.stderr
    frame.drop(columns=["c"]).to_csv(root / "short.csv", index=False)
    run = fastbp("predict", "small.skops", "short.csv", cwd=root)
    assert run.returncode == 2 and "no column 'c' in short.csv" in run.stderr


def test_pickles_need_trust(tables):
    root, frame = tables
    run = fastbp("train", "train.csv", "--target", "label", "--drop", "row_id", "--drop", "value",
                 "--set", "max_iter=5", "--output", "model.joblib", "--quiet", cwd=root)
    assert run.returncode == 0, run.stderr
    assert fastbp("predict", "model.joblib", "new.parquet", cwd=root).returncode == 2
    run = fastbp("predict", "model.joblib", "new.parquet", "--trust-pickle", cwd=root)
    assert run.returncode == 0 and run.stdout.startswith("prediction")


EVERY_EXTRA = dict(dropout=0.1, l1=1e-4, max_grad_norm=5.0, batch_norm=True, init="he", learning_rate="cosine",
                   warmup_epochs=1, early_stopping=True, early_stopping_metric="loss", restore_best_weights=True,
                   frozen_layers=0, hidden_layer_sizes=(6, 5), max_iter=6, random_state=0, solver="adamw")


@pytest.mark.parametrize("Est,extra", [
    (BackpropClassifier, dict(label_smoothing=0.1, class_weight="balanced", activation="gelu")),
    (BackpropRegressor, dict(loss="huber", huber_delta=0.5, activation="silu")),
])
def test_skops_files_of_every_estimator_load_with_fastbps_trusted_types(tmp_path, Est, extra):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 3))
    y = (X[:, 0] > 0).astype(int) if Est is BackpropClassifier else X[:, 0]
    model = Est(**EVERY_EXTRA, **extra).fit(X, y)
    path = str(tmp_path / "model.skops")
    skops_io.dump(model, path)
    loaded = load_model(path)
    assert type(loaded) is Est and loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    loaded.partial_fit(X, y) if not loaded.early_stopping else loaded.set_params(warm_start=True).fit(X, y)


class Sneaky:
    """A type no one told fastbp to trust."""

    def on_epoch_end(self, estimator, epoch, logs):
        return False


def test_a_file_naming_an_untrusted_type_is_refused(tmp_path):
    X = np.random.RandomState(0).normal(size=(40, 3))
    model = BackpropClassifier(max_iter=2, callbacks=[Sneaky()]).fit(X, np.arange(40) % 2)
    path = str(tmp_path / "sneaky.skops")
    skops_io.dump(model, path)
    with pytest.raises(CommandError, match=r"names types fastbp does not trust: .*Sneaky"):
        load_model(path)
    plain = str(tmp_path / "other.skops")
    from sklearn.linear_model import LogisticRegression

    skops_io.dump(LogisticRegression().fit(X, np.arange(40) % 2), plain)
    with pytest.raises(CommandError, match="holds a LogisticRegression, not a fitted fastbp estimator"):
        load_model(plain)


def test_the_console_script_is_installed():
    script = os.path.join(os.path.dirname(sys.executable), "fastbp")
    run = subprocess.run([script, "--help"], capture_output=True, text=True)
    assert run.returncode == 0 and "train" in run.stdout and "predict" in run.stdout

"""The ``fastbp`` command: train on a CSV or Parquet file, and predict with the saved model.

::

    fastbp train data.csv --target label --set hidden_layer_sizes=(64,32) --output model.skops
    fastbp predict model.skops new.csv --proba --id row_id --output predictions.csv

Files are read with pandas (Parquet through pyarrow): the ``fastbp[cli]`` extra.
Models are saved with skops (``.skops``), which rebuilds only trusted types when
loading, so ``fastbp predict`` never runs code a model file carries: fastbp's own
estimator types and what skops trusts by default are allowed, anything else is
refused and named.  A ``.joblib`` or ``.pkl`` model is a pickle, which can run
arbitrary code: it is read only with ``--trust-pickle``.

Bad input (a missing file or column, a non-numeric feature, an unknown
parameter, a file that is not a fastbp model) ends with a one-line message and
exit status 2, no traceback.  ``python -m fastbp`` stays the demo.
"""

import argparse
import ast
import importlib.util
import os
import sys
import warnings

#: Types a ``.skops`` model file may hold beyond what skops trusts by default.
TRUSTED_TYPES = [
    "fastbp.estimators.classifier.BackpropClassifier",
    "fastbp.estimators.regressor.BackpropRegressor",
    "fastbp.optim.OptimizerState",
]
_PICKLES = (".joblib", ".pkl", ".pickle")


class CommandError(Exception):
    """A problem with the command's input: reported in one line, exit status 2."""


def _pandas():
    try:
        import pandas
    except ImportError:
        raise CommandError("reading data needs pandas: pip install 'fastbp[cli]'") from None
    return pandas


def read_table(path):
    """A CSV (any other extension) or Parquet (``.parquet``, ``.pq``) file as a DataFrame."""
    pd = _pandas()
    if not os.path.isfile(path):
        raise CommandError(f"no such file: {path}")
    try:
        if path.lower().endswith((".parquet", ".pq")):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except ImportError as exc:
        raise CommandError(f"reading {path} needs pyarrow: pip install 'fastbp[cli]' ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - a parser's error, reported in one line
        raise CommandError(f"cannot read {path}: {exc}") from None


def features(frame, exclude, path):
    """The columns of ``frame`` but ``exclude``: each must be numeric (boolean, integer or float)."""
    columns = [c for c in frame.columns if c not in exclude]
    if not columns:
        raise CommandError(f"{path} has no feature column besides {', '.join(map(str, sorted(exclude)))}")
    bad = [c for c in columns if frame[c].dtype.kind not in "biuf"]
    if bad:
        raise CommandError(f"column {bad[0]!r} of {path} is not numeric (dtype {frame[bad[0]].dtype}); "
                           "encode it as numbers or leave it out with --drop")
    return frame[columns]


def parse_settings(pairs, estimator):
    """``NAME=VALUE`` strings as estimator parameters (values parsed as Python literals, else
    kept as strings); an unknown name or a malformed pair is an error."""
    params = {}
    known = estimator.get_params(deep=False)
    for pair in pairs or ():
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise CommandError(f"--set takes NAME=VALUE, got {pair!r}")
        if name not in known:
            raise CommandError(f"unknown parameter {name!r} for {type(estimator).__name__}")
        try:
            params[name] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            params[name] = text.strip()
    return params


def save_model(model, path):
    """Write ``model`` to ``path``: skops for ``.skops``, joblib for a pickle extension."""
    if path.endswith(".skops"):
        import skops.io

        skops.io.dump(model, path)
    elif path.endswith(_PICKLES):
        import joblib

        joblib.dump(model, path)
    else:
        raise CommandError(f"--output must end in .skops (or, as a pickle, .joblib or .pkl): {path}")


def load_model(path, trust_pickle=False):
    """A fitted fastbp estimator from ``path``.

    ``.skops`` files are rebuilt by skops with :data:`TRUSTED_TYPES` trusted
    beside skops's defaults; a file naming any other type is refused.  Pickles
    are read only with ``trust_pickle``.

    Raises
    ------
    CommandError
        For a missing file, an untrusted type, a pickle without
        ``trust_pickle``, or a file that is not a fitted fastbp estimator.
    """
    from fastbp import BackpropClassifier, BackpropRegressor

    if not os.path.isfile(path):
        raise CommandError(f"no such model file: {path}")
    if path.endswith(_PICKLES):
        if not trust_pickle:
            raise CommandError(f"{path} is a pickle, which can run arbitrary code when loaded: pass --trust-pickle "
                               "only if you trust its source (a .skops model needs no trust)")
        import joblib

        try:
            model = joblib.load(path)
        except Exception as exc:  # noqa: BLE001
            raise CommandError(f"cannot read {path}: {exc}") from None
    else:
        import skops.io

        try:
            untrusted = skops.io.get_untrusted_types(file=path)
        except Exception as exc:  # noqa: BLE001 - not a skops file
            raise CommandError(f"{path} is not a skops model file ({type(exc).__name__}: {exc})") from None
        refused = sorted(set(untrusted) - set(TRUSTED_TYPES))
        if refused:
            raise CommandError(f"{path} names types fastbp does not trust: {', '.join(refused)}")
        model = skops.io.load(path, trusted=list(untrusted))
    if not isinstance(model, (BackpropClassifier, BackpropRegressor)) or not hasattr(model, "coefs_"):
        raise CommandError(f"{path} holds a {type(model).__name__}, not a fitted fastbp estimator")
    return model


def train(args):
    from sklearn.model_selection import train_test_split

    from fastbp import BackpropClassifier, BackpropRegressor

    if not args.output.endswith((".skops", *_PICKLES)):  # before any work
        raise CommandError(f"--output must end in .skops (or, as a pickle, .joblib or .pkl): {args.output}")
    frame = read_table(args.data)
    if args.target not in frame.columns:
        raise CommandError(f"no column {args.target!r} in {args.data} (columns: {', '.join(map(str, frame.columns))})")
    missing = [c for c in args.drop if c not in frame.columns]
    if missing:
        raise CommandError(f"no column {missing[0]!r} in {args.data} to drop")
    estimator = BackpropRegressor() if args.regressor else BackpropClassifier()
    params = parse_settings(args.set, estimator)
    if not args.quiet and "progress_bar" not in params and importlib.util.find_spec("tqdm") is not None:
        params["progress_bar"] = True
    estimator.set_params(**params)
    X = features(frame, {args.target, *args.drop}, args.data)  # a DataFrame: the model keeps its column names
    y = frame[args.target].to_numpy()
    stratify = None if args.regressor else y
    try:
        X_train, X_val, y_train, y_val = train_test_split(
            X, y, test_size=args.validation_fraction, random_state=args.random_state, stratify=stratify)
    except ValueError as exc:
        raise CommandError(f"cannot hold out {args.validation_fraction} of {len(y)} rows for validation: {exc}") \
            from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore" if args.quiet else "default")
        try:
            estimator.fit(X_train, y_train)
        except (ValueError, TypeError) as exc:
            raise CommandError(f"training failed: {exc}") from None
    score = estimator.score(X_val, y_val)
    what = "R^2" if args.regressor else "accuracy"
    print(f"validation {what}: {score:.4f} ({len(y_val)} rows held out; trained on {len(y_train)})")
    save_model(estimator, args.output)
    print(f"model saved to {args.output}")


def predict(args):
    pd = _pandas()
    model = load_model(args.model, trust_pickle=args.trust_pickle)
    frame = read_table(args.data)
    columns = getattr(model, "feature_names_in_", None)  # set when the model was trained on a table
    if columns is None:
        X = features(frame, {args.id} if args.id else set(), args.data).to_numpy(dtype=float)
    else:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise CommandError(f"no column {missing[0]!r} in {args.data}: the model reads {', '.join(columns)}")
        X = features(frame[list(columns)], set(), args.data)
    if args.id and args.id not in frame.columns:
        raise CommandError(f"no id column {args.id!r} in {args.data}")
    try:
        if args.proba:
            if not hasattr(model, "predict_proba"):
                raise CommandError("--proba needs a classifier; this model is a regressor")
            values = model.predict_proba(X)
            out = pd.DataFrame(values, columns=[f"proba_{c}" for c in model.classes_])
        else:
            values = model.predict(X)
            out = pd.DataFrame(values.reshape(len(X), -1))
            out.columns = ["prediction"] if out.shape[1] == 1 else [f"prediction_{j}" for j in range(out.shape[1])]
    except (ValueError, TypeError) as exc:
        raise CommandError(f"prediction failed: {exc}") from None
    if args.id:
        out.insert(0, args.id, frame[args.id].to_numpy())
    if args.output:
        out.to_csv(args.output, index=False)
    else:
        out.to_csv(sys.stdout, index=False)


def build_parser():
    parser = argparse.ArgumentParser(prog="fastbp", description="Train and use fastbp models on CSV or Parquet files.")
    commands = parser.add_subparsers(dest="command", required=True)
    t = commands.add_parser("train", help="train a model on a table and save it")
    t.add_argument("data", help="CSV or Parquet (.parquet) file")
    t.add_argument("--target", required=True, help="column to predict")
    t.add_argument("--regressor", action="store_true", help="train a BackpropRegressor (default: BackpropClassifier)")
    t.add_argument("--set", action="append", metavar="NAME=VALUE", help="estimator parameter (a Python literal)")
    t.add_argument("--drop", action="append", default=[], metavar="COL", help="column not to use as a feature")
    t.add_argument("--validation-fraction", type=float, default=0.2, help="rows held out to score (default 0.2)")
    t.add_argument("--random-state", type=int, default=0, help="seed of the validation split (default 0)")
    t.add_argument("--output", required=True, help="model file: MODEL.skops (or .joblib/.pkl, a pickle)")
    t.add_argument("--quiet", action="store_true", help="no progress bar and no warnings")
    t.set_defaults(run=train)
    p = commands.add_parser("predict", help="predict with a saved model; CSV to stdout or --output")
    p.add_argument("model", help="model file written by 'fastbp train'")
    p.add_argument("data", help="CSV or Parquet file with the model's feature columns")
    p.add_argument("--proba", action="store_true", help="class probabilities instead of labels")
    p.add_argument("--output", help="CSV file to write (default: standard output)")
    p.add_argument("--id", help="column to copy into the output beside each prediction")
    p.add_argument("--trust-pickle", action="store_true", help="allow a .joblib/.pkl model (runs its code)")
    p.set_defaults(run=predict)
    return parser


def main(argv=None):
    """Entry point of the ``fastbp`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except CommandError as exc:
        print(f"fastbp: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader (``| head``) closed the pipe: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

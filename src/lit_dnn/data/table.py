"""The user's own table (CSV, TSV, Parquet) or a scikit-learn bundled one, for classification or regression."""

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lit_dnn.data.in_memory import InMemoryDataModule
from lit_dnn.data.normalization import Normalization
from lit_dnn.data.splits import split_size
from lit_dnn.errors import ConfigError, DataError
from lit_dnn.limits import MAX_CATEGORIES, MAX_CLASSES, MAX_NAME_CHARS

TASKS = ("auto", "classification", "regression")
# scikit-learn's bundled tables: no download; path=sklearn:<name>
BUNDLED = ("iris", "wine", "breast_cancer", "diabetes")
MAX_CLASSES_INFERRED = 20  # an integer target with at most this many values is classified under task=auto


def read_table(path: str) -> Any:
    """A pandas DataFrame of a CSV/TSV/Parquet file or of ``sklearn:<name>`` (target column ``target``)."""
    import pandas as pd

    if path.startswith("sklearn:"):
        name = path.split(":", 1)[1]
        if name not in BUNDLED:
            raise ConfigError(f"data.path={path} is not a bundled table; use one of {', '.join('sklearn:' + n for n in BUNDLED)}.")
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, f"load_{name}")(as_frame=True)
        frame = bunch.frame
        if "target_names" in bunch:  # classification: the class names instead of their codes
            frame["target"] = pd.Categorical.from_codes(frame["target"], list(map(str, bunch.target_names)))
        return frame
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"data.path={path} is not a file; pass the path of a CSV (or .tsv, .parquet) table.")
    try:
        if file.suffix.lower() == ".parquet":
            return pd.read_parquet(file)
        with warnings.catch_warnings():  # every row one field longer than the header: pandas would drop a column's data
            warnings.simplefilter("error", pd.errors.ParserWarning)
            sep = "\t" if file.suffix.lower() in (".tsv", ".tab") else ","
            return pd.read_csv(file, sep=sep, skipinitialspace=True, index_col=False)  # never a column taken as the index
    except pd.errors.ParserWarning as err:
        raise DataError(f"the rows of {file} have more fields than its header row names; give every column a name in the header.") from err
    except ImportError as err:
        raise DataError(f"reading {file} needs pyarrow (pip install pyarrow), or save the table as CSV.") from err
    except (ValueError, OSError, UnicodeDecodeError) as err:  # pandas' ParserError and EmptyDataError are ValueErrors
        raise DataError(
            f"cannot read {file} as a table ({str(err).strip().splitlines()[0][:160]}); save it as CSV with one header row."
        ) from err


def infer_task(target: Any) -> str:
    """Text, booleans and categories are classes; integers with few values too; other numbers regression."""
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
        return "classification"
    if pd.api.types.is_integer_dtype(target) and target.nunique() <= MAX_CLASSES_INFERRED:
        return "classification"
    return "regression"


def encode_features(frame: Any, columns: list[str], categories: dict[str, list[str]], where: str) -> np.ndarray:
    """The model's raw inputs (N, features): numbers as they are; each text column one-hot over the
    categories of the training table (a value it never saw is all zeros). Training and predict share it."""
    import pandas as pd

    parts = []
    for column in columns:
        values = frame[column]
        if column in categories:
            codes = pd.Categorical(values.astype(str), categories=categories[column]).codes
            parts.append(np.eye(len(categories[column]) + 1, dtype=np.float32)[codes][:, :-1])  # code -1: unseen
            continue
        numbers = pd.to_numeric(values, errors="coerce")
        bad = numbers.isna() & values.notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"{where} has the value {values.iloc[row]!r} in numeric column {column!r} (row {row + 2} of the "
                f"file, counting the header); fix it, or list the column in data.features only if it is text."
            )
        parts.append(numbers.to_numpy(np.float32)[:, None])
    return np.concatenate(parts, axis=1)


class TableDataModule(InMemoryDataModule):
    """A table in memory: ``features`` (default every column but ``target``) as one float tensor, on
    the same batch path as the images. Text feature columns are one-hot encoded (``categorical=onehot``)
    or refused by name (``refuse``). Features are standardised with training-split statistics
    (saved in checkpoints). ``test_split`` (a fraction or count of all rows, stratified for
    classification) is held out, or ``test_path`` is read as the test set; ``val_split`` is carved
    from the rest. With ``folds=K``, fold ``fold`` (0..K-1) of a seeded K-fold split is the test set.

    Classification: class names are the target's values (sorted). Regression: one or several target
    columns, optionally standardised for training (``standardize_target``); metrics are always in the
    target's own units.
    """

    def __init__(
        self,
        path: str,
        target: str | list[str],
        features: list[str] | None = None,
        task: str = "auto",
        test_split: float = 0.2,
        test_path: str | None = None,
        val_split: float = 0.2,
        categorical: str = "onehot",
        dropna: bool = False,
        standardize_target: bool = True,
        folds: int | None = None,
        fold: int = 0,
        batch_size: int | str = "auto",
        eval_batch_size: int = 1000,
        seed: int = 0,
        split_seed: int | None = None,
        val_from: str = "random",
    ) -> None:
        super().__init__(
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            val_split=val_split,
            seed=seed,
            split_seed=split_seed,
            val_from=val_from,
        )
        if task not in TASKS:
            raise ConfigError(f"data.task={task!r} is not one of {', '.join(TASKS)}.")
        if categorical not in ("onehot", "refuse"):
            raise ConfigError(f"data.categorical={categorical!r} is not one of onehot, refuse.")
        if folds is not None and (isinstance(folds, bool) or not isinstance(folds, int) or folds < 2):
            raise ConfigError(f"data.folds={folds!r} must be an integer of at least 2 (or null for one split).")
        if folds is not None and not (isinstance(fold, int) and 0 <= fold < folds):
            raise ConfigError(f"data.fold={fold!r} must be one of 0..{folds - 1} for data.folds={folds}.")
        self.path, self.test_path = str(path), test_path
        self.targets = [target] if isinstance(target, str) else list(target)
        self.features = None if features is None else list(features)
        self.task, self.categorical, self.dropna = task, categorical, dropna
        self.test_split, self.standardize_target = test_split, standardize_target
        self.folds, self.fold = folds, fold
        self.class_names: list[str] = []
        self.target_mean: list[float] = []
        self.target_std: list[float] = []
        self.normalization = Normalization(1.0, 0.0, 1.0)

    # --- reading and checking
    def _columns(self, frame: Any, where: str) -> list[str]:
        missing = [t for t in self.targets if t not in frame.columns]
        if missing:
            raise DataError(
                f"{where} has no column {', '.join(map(repr, missing))} (data.target); its columns are "
                f"{', '.join(map(str, frame.columns))}."
            )
        features = self.features if self.features is not None else [c for c in frame.columns if c not in self.targets]
        absent = [f for f in features if f not in frame.columns]
        if absent:
            raise DataError(
                f"{where} has no column {', '.join(map(repr, absent))} (data.features); its columns are "
                f"{', '.join(map(str, frame.columns))}."
            )
        if not features:
            raise DataError(f"{where} has no feature columns besides the target {self.targets}; add some or set data.features.")
        leaked = [t for t in self.targets if t in features]
        if leaked:
            raise ConfigError(
                f"data.features lists the target {', '.join(map(repr, leaked))}, which the model would then read as an input; "
                f"remove it from data.features."
            )
        return features

    def _clean(self, frame: Any, where: str) -> Any:
        """Rows with empty cells dropped (``dropna``) or refused naming the columns."""
        columns = [*self.feature_columns, *self.targets]
        empty = frame[columns].isna().sum()
        empty = empty[empty > 0]
        if len(empty):
            if not self.dropna:
                listed = ", ".join(f"{c} ({n})" for c, n in empty.items())
                raise DataError(f"{where} has empty cells in {listed}; fill them, or pass data.dropna=true to drop those rows.")
            frame = frame.dropna(subset=columns)
        if len(frame) == 0:
            raise DataError(f"{where} has no rows left to train on; check the file.")
        return frame.reset_index(drop=True)

    def _encode_features(self, frame: Any, where: str) -> np.ndarray:
        return encode_features(frame, self.feature_columns, self.categories, where)

    def _encode_targets(self, frame: Any, where: str) -> torch.Tensor:
        if self.task == "classification":
            values = frame[self.targets[0]].astype(str)
            unknown = sorted(set(values) - set(self.class_names))
            if unknown:
                raise DataError(
                    f"{where} has target values {unknown[:5]} not seen in the training table; the classes are {self.class_names}."
                )
            lookup = {name: i for i, name in enumerate(self.class_names)}
            return torch.tensor(values.map(lookup).to_numpy(np.int64))
        import pandas as pd

        out = []
        for column in self.targets:
            numbers = pd.to_numeric(frame[column], errors="coerce")
            if numbers.isna().any():
                row = int(np.flatnonzero(numbers.isna().to_numpy())[0])
                raise DataError(
                    f"{where} has the value {frame[column].iloc[row]!r} in target column {column!r} (row {row + 2} "
                    f"of the file); a regression target must be a number."
                )
            out.append(numbers.to_numpy(np.float32))
        return torch.from_numpy(np.stack(out, axis=1))

    def load(self) -> None:
        import pandas as pd

        frame = read_table(self.path)
        where = self.path
        self.feature_columns = self._columns(frame, where)
        frame = self._clean(frame, where)
        looks = "regression" if len(self.targets) > 1 else infer_task(frame[self.targets[0]])
        if self.task == "auto":
            self.task = looks
        elif self.task == "classification" and looks == "regression":
            raise DataError(
                f"{where}: the target {self.targets[0]!r} holds {frame[self.targets[0]].nunique()} different numbers, "
                f"a regression; add task=regression to the command."
            )
        elif self.task == "regression" and not pd.api.types.is_numeric_dtype(frame[self.targets[0]]):
            raise DataError(f"{where}: the target {self.targets[0]!r} holds text, classes; drop task=regression.")
        if self.task == "classification" and len(self.targets) > 1:
            raise ConfigError(f"data.target={self.targets} names several columns; classify one column, or set data.task=regression.")
        text = [c for c in self.feature_columns if not pd.api.types.is_numeric_dtype(frame[c])]
        text = [c for c in text if pd.to_numeric(frame[c], errors="coerce").isna().mean() > 0.5]  # a typo is not a category
        if text and self.categorical == "refuse":
            raise DataError(f"{where} has text columns {', '.join(text)}; drop them from data.features or pass data.categorical=onehot.")
        self.categories = {c: sorted(frame[c].astype(str).unique()) for c in text}
        wide = next((c for c, values in self.categories.items() if len(values) > MAX_CATEGORIES), None)
        if wide is not None:
            raise DataError(
                f"{where} has {len(self.categories[wide]):,} different texts in column {wide!r}, over the {MAX_CATEGORIES:,} "
                f"one-hot columns lit-dnn makes of one feature (an id or free text?); drop it from data.features."
            )
        self.input_columns = [
            f"{c}={v}" if c in self.categories else c for c in self.feature_columns for v in (self.categories.get(c) or [None])
        ]
        if self.task == "classification":
            self.class_names = sorted(frame[self.targets[0]].astype(str).unique())
            if len(self.class_names) < 2:
                raise DataError(f"{where} has a single class {self.class_names} in {self.targets[0]!r}; a classifier needs two or more.")
            if len(self.class_names) > MAX_CLASSES:
                raise DataError(
                    f"{where} has {len(self.class_names):,} classes in {self.targets[0]!r}, over lit-dnn's limit of {MAX_CLASSES:,}; "
                    f"if it holds numbers, add data.task=regression, or choose another target column."
                )
            long = next((n for n in self.class_names if len(n) > MAX_NAME_CHARS), None)
            if long is not None:
                raise DataError(
                    f"{where} has a class name of {len(long):,} characters in {self.targets[0]!r} (lit-dnn shows at most "
                    f"{MAX_NAME_CHARS}); shorten the labels, or choose another target column."
                )
        x = torch.from_numpy(self._encode_features(frame, where))
        y = self._encode_targets(frame, where)
        train_x, train_y, test_x, test_y = self._hold_out(x, y, frame)
        self.set_splits(train_x, train_y, test_x, test_y)
        train = self.splits["train"][0]
        std = train.std(0) if len(train) > 1 else torch.ones(train.shape[1])
        self.normalization = Normalization(
            1.0,
            train.mean(0),
            torch.where(std > 0, std, torch.ones_like(std)),
            doc=f"the columns {', '.join(self.input_columns)} minus the training mean, over the training std",
        )
        if self.task == "regression":
            targets = self.splits["train"][1]
            tstd = targets.std(0) if len(targets) > 1 else torch.ones(targets.shape[1])
            mean, tstd = (
                (targets.mean(0), torch.where(tstd > 0, tstd, torch.ones_like(tstd)))
                if self.standardize_target
                else (torch.zeros(targets.shape[1]), torch.ones(targets.shape[1]))
            )
            self.target_mean, self.target_std = mean.tolist(), tstd.tolist()
        self.input_shape = (x.shape[1],)

    def _hold_out(self, x: torch.Tensor, y: torch.Tensor, frame: Any) -> tuple[torch.Tensor, ...]:
        """The test set: a K-fold part, a separate file, or a seeded (stratified) fraction."""
        n = len(x)
        stratify = y.numpy() if self.task == "classification" else None
        if self.folds is not None:
            from sklearn.model_selection import KFold, StratifiedKFold

            if n < self.folds * 2:
                raise DataError(f"{self.path} has {n} rows, too few for data.folds={self.folds}; use fewer folds.")
            if stratify is not None and np.bincount(stratify).min() < self.folds:
                splitter = KFold(self.folds, shuffle=True, random_state=self.split_seed)
            else:
                splitter = (StratifiedKFold if stratify is not None else KFold)(self.folds, shuffle=True, random_state=self.split_seed)
            train_idx, test_idx = list(splitter.split(np.zeros(n), stratify))[self.fold]
        elif self.test_path is not None:
            test = read_table(self.test_path)
            self._columns(test, self.test_path)
            test = self._clean(test, self.test_path)
            return x, y, torch.from_numpy(self._encode_features(test, self.test_path)), self._encode_targets(test, self.test_path)
        else:
            from sklearn.model_selection import train_test_split

            n_test = split_size(self.test_split, n, key="data.test_split")
            if n - n_test < 2 or n_test < 1:
                raise DataError(f"{self.path} has {n} rows, too few for data.test_split={self.test_split}; add rows or lower it.")
            strat = stratify if stratify is not None and np.bincount(stratify).min() >= 2 else None
            train_idx, test_idx = train_test_split(np.arange(n), test_size=n_test, random_state=self.split_seed, stratify=strat)
        train_idx, test_idx = torch.from_numpy(np.sort(train_idx)), torch.from_numpy(np.sort(test_idx))
        return x[train_idx], y[train_idx], x[test_idx], y[test_idx]

    def set_splits(self, train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor) -> None:
        try:
            split_size(self.val_split, len(train_x))
        except ConfigError as err:
            if not isinstance(self.val_split, (int, float)) or isinstance(self.val_split, bool):
                raise
            raise DataError(
                f"{self.path} keeps {len(train_x)} rows for training and validation, too few for "
                f"data.val_split={self.val_split}; add rows or lower data.val_split (or data.test_split)."
            ) from err
        super().set_splits(train_x, train_y, test_x, test_y)

    @property
    def output_names(self) -> list[str]:
        return self.class_names if self.task == "classification" else self.targets

    def schema(self) -> dict[str, Any]:
        """The columns a prediction needs, saved in checkpoints: features in training order, the text
        columns' categories, the model's input columns after one-hot encoding, and the targets."""
        return {
            "features": list(self.feature_columns),
            "categories": self.categories,
            "input_columns": list(self.input_columns),
            "targets": list(self.targets),
        }

    def head(self) -> dict[str, Any]:
        """What the model's head takes from the data (``checkpoint.build_model``)."""
        if self.task == "classification":
            return {"class_names": list(self.class_names)}
        return {"target_names": list(self.targets), "target_mean": self.target_mean, "target_std": self.target_std}

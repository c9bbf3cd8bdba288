"""Synthetic binary classification, the tutorials' ``make_classification`` set-up."""

import numpy as np
import torch
from sklearn.datasets import make_classification

from lit_dnn.data.in_memory import InMemoryDataModule
from lit_dnn.data.normalization import Normalization
from lit_dnn.data.splits import split_size


class BinaryDataModule(InMemoryDataModule):
    """``make_classification`` features, standardised with training-split statistics only.

    ``test_split`` is a fraction (or count) of all samples; ``val_split`` a fraction (or
    count) of what remains, as Keras' ``validation_split``. The defaults give 70/15/15.
    """

    def __init__(
        self,
        n_samples: int = 1000,
        n_features: int = 20,
        n_informative: int = 15,
        n_redundant: int = 5,
        random_state: int = 42,
        test_split: float = 0.15,
        val_split: float = 0.1765,
        batch_size: int = 32,
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
        self.n_samples = n_samples
        self.n_features = n_features
        self.n_informative = n_informative
        self.n_redundant = n_redundant
        self.random_state = random_state
        self.test_split = test_split
        self.class_names = ["0", "1"]
        self.input_shape = (n_features,)
        self.normalization = Normalization(1.0, 0.0, 1.0)  # standardisation, once load has the training split

    def load(self) -> None:
        x, y = make_classification(
            n_samples=self.n_samples,
            n_features=self.n_features,
            n_informative=self.n_informative,
            n_redundant=self.n_redundant,
            random_state=self.random_state,
        )
        n_test = split_size(self.test_split, self.n_samples, key="data.test_split")
        order = np.random.default_rng(self.random_state).permutation(self.n_samples)
        test, pool = order[:n_test], order[n_test:]
        x, y = torch.from_numpy(x).float(), torch.from_numpy(y).long()
        self.set_splits(x[pool], y[pool], x[test], y[test])
        train_x = self.splits["train"][0]
        mean, std = train_x.mean(0), train_x.std(0).clamp_min(1e-12)
        self.normalization = Normalization(
            1.0, mean, std, doc="raw make_classification features minus the training mean, over the training std"
        )

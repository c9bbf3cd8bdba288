"""The sizes lit-dnn accepts from a checkpoint or a table, checked before anything is allocated.

A checkpoint is a file someone sends: its settings must not make eval, predict, export or a
resume allocate gigabytes (a layer of 10**9 units, 200,000 classes, a 10 MB class name) before
a shape check can refuse it. Training data is held to the same limits, so every checkpoint that
``train.py`` writes is one that lit-dnn reads back.
"""

MAX_CLASSES = 1_000  # classes of a classifier (its confusion matrix is classes × classes)
MAX_NAME_CHARS = 200  # a class, target or column name
MAX_TEXT_CHARS = 10_000  # any other text in a checkpoint's settings (a path, a docstring)
MAX_CATEGORIES = 1_000  # distinct values of one text feature column (one one-hot input each)
MAX_INPUT_VALUES = 10**7  # numbers in one sample (a 3,162 × 3,162 image)
MAX_HIDDEN_LAYERS = 100  # hidden layers of a net (100,000 took 37 s to build, even without memory)
MAX_PARAMETERS = 2 * 10**8  # a network's parameters (800 MB of float32)
MAX_SYNTHETIC_VALUES = 10**8  # samples × features that data=binary generates (800 MB of float64)

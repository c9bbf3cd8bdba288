# Everyday commands; each is one line you can also type yourself.
.PHONY: install train test test-fast lint format tensorboard optuna-dashboard clean

install:      ## the project and its dev tools, editable
	pip install -e ".[dev]"

train:        ## the tutorial DNN on MNIST (python train.py ARGS="data=fashion_mnist ...")
	python train.py $(ARGS)

test:         ## both tiers, as CI runs them (the real-data tier reads DATA_DIR)
	python -m pytest

test-fast:    ## the fast tier only, on two cores
	python -m pytest -m "not slow" -n 2

lint:         ## what CI checks before the tests
	ruff check .
	ruff format --check .

format:       ## fix what ruff can
	ruff check --fix .
	ruff format .

tensorboard:  ## the dashboard over every run
	tensorboard --logdir logs

STUDY ?= mnist_optuna
optuna-dashboard:  ## an Optuna sweep's study in the browser (STUDY=binary_optuna for another)
	optuna-dashboard sqlite:///logs/train/optuna/$(STUDY)/optuna.db

clean:        ## caches; logs/ keeps your runs
	rm -rf .pytest_cache .ruff_cache src/*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# vton: one entry point for set-up, tests, data and training. `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
VTON   := $(BIN)/vton
ARGS   ?=

# Where `make data` writes the built-in synthetic sets (the stage configs point here).
DATA_DIR ?= data

.PHONY: help install test lint format data train-stage1 train-stage2 train-stage3 train-stage4 train-e2e eval bench bench-synth

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

install:  ## create .venv and install the project (editable) with its dev extras
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	# torch and torchvision in one resolve, so their builds match (see README, "Installing")
	$(BIN)/pip install torch torchvision
	$(BIN)/pip install -e ".[dev]"

test:  ## run the test suite (CPU, a few minutes)
	$(BIN)/python -m pytest

lint:  ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:  ## apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

data: $(DATA_DIR)/synthetic_mpv/data_pair.txt $(DATA_DIR)/synthetic_deepfashion/test.lst  ## write the built-in synthetic datasets under $(DATA_DIR)/ (once)

# ~90 s on 2 cores, ~650 MB; byte-identical for a seed whatever the number of workers.
$(DATA_DIR)/synthetic_mpv/data_pair.txt:
	$(BIN)/vton-data synth --out $(DATA_DIR)/synthetic_mpv --layout mpv --size 256x192 --n-train 2400 --n-test 240 --n-seq 16 --n-seq-test 4 --seed 0 --workers 2 --overwrite

$(DATA_DIR)/synthetic_deepfashion/test.lst:
	$(BIN)/vton-data synth --out $(DATA_DIR)/synthetic_deepfashion --layout deepfashion --size 256x176 --n-train 1200 --n-test 120 --seed 1 --workers 2 --overwrite

# A stage is "built" when its config exists; otherwise the target says so and fails.
define train_stage
	@test -f configs/$(1).yaml || { echo "$(2) is not built yet (no configs/$(1).yaml): see its issue" >&2; exit 1; }
	$(VTON) fit -c configs/$(1).yaml $(ARGS)
endef

train-stage1:  ## stage 1, semantic layout prediction (configs/stage1_layout.yaml)
	$(call train_stage,stage1_layout,stage 1 (semantic layout))

train-stage2:  ## stage 2, appearance-flow warping (configs/stage2_warp.yaml)
	$(call train_stage,stage2_warp,stage 2 (appearance-flow warping))

train-stage3:  ## stage 3, try-on synthesis (configs/stage3_synthesis.yaml)
	$(call train_stage,stage3_synthesis,stage 3 (try-on synthesis))

train-stage4:  ## stage 4, pose-transfer refinement (configs/stage4_refine.yaml)
	$(call train_stage,stage4_refine,stage 4 (pose-transfer refinement))

train-e2e:  ## end-to-end fine-tuning of the chained stages (configs/e2e.yaml)
	$(call train_stage,e2e,the end-to-end chain)

eval:  ## full evaluation table of the chain on the test split
	@test -f configs/e2e.yaml || { echo "eval needs the end-to-end chain, which is not built yet (no configs/e2e.yaml)" >&2; exit 1; }
	$(VTON) test -c configs/e2e.yaml $(ARGS)

bench:  ## GPU speed and memory benchmarks of every stage and the chain
	@test -f scripts/bench_gpu.py || { echo "the GPU benchmarks are not built yet (no scripts/bench_gpu.py); 'make bench-synth' times data generation" >&2; exit 1; }
	$(BIN)/python scripts/bench_gpu.py $(ARGS)

bench-synth:  ## time synthetic data generation on this CPU (writes figures to stdout)
	$(BIN)/python scripts/bench_synth.py $(ARGS)

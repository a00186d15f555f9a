# vton: one entry point for set-up, tests, data and training. `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
VTON   := $(BIN)/vton
ARGS   ?=

# Where `make data` writes the built-in synthetic sets (the stage configs point here).
DATA_DIR ?= data

.PHONY: help install test lint format data train-stage1 train-stage2 train-stage3 train-fashionmirror train-stage4 \
	train-stage4-fusion train-temporal train-spg train-e2e smoke eval predict bench bench-infer bench-train bench-data bench-synth attribute-classifier

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

# ~35 s on 2 cores, ~700 MB; byte-identical for a seed whatever the number of workers.
$(DATA_DIR)/synthetic_mpv/data_pair.txt:
	$(BIN)/vton-data synth --out $(DATA_DIR)/synthetic_mpv --layout mpv --size 256x192 --n-train 2400 --n-test 240 --n-seq 16 --n-seq-test 4 --seed 0 --workers 2 --overwrite

$(DATA_DIR)/synthetic_deepfashion/test.lst:
	$(BIN)/vton-data synth --out $(DATA_DIR)/synthetic_deepfashion --layout deepfashion --size 256x176 --n-train 1200 --n-test 120 --seed 1 --workers 2 --overwrite

train-stage1:  ## stage 1, semantic layout prediction (configs/stage1_layout.yaml)
	$(VTON) fit -c configs/stage1_layout.yaml $(ARGS)

train-stage2:  ## stage 2, appearance-flow warping (configs/stage2_warp.yaml; siblings _tps, _flow)
	$(VTON) fit -c configs/stage2_warp.yaml $(ARGS)

train-stage3:  ## stage 3, try-on synthesis (configs/stage3_synthesis.yaml)
	$(VTON) fit -c configs/stage3_synthesis.yaml $(ARGS)

train-fashionmirror:  ## FashionMirror: co-attention masks + feature remapping (configs/stage3_fashionmirror.yaml)
	$(VTON) fit -c configs/stage3_fashionmirror.yaml $(ARGS)

train-stage4:  ## stage 4, pose-transfer refinement (configs/stage4_refine.yaml; sibling _intrinsic)
	$(VTON) fit -c configs/stage4_refine.yaml $(ARGS)

train-stage4-fusion:  ## stage 4 for the try-on chain: fusion with stage 3's result, MPV layout
	$(VTON) fit -c configs/stage4_refine.yaml -c configs/stage4_refine_fusion.yaml $(ARGS)

train-temporal:  ## temporal fine-tuning of stage 3 over pose sequences (configs/temporal.yaml)
	$(VTON) fit -c configs/temporal.yaml $(ARGS)

train-spg:  ## SPG-VTON's three steps in one go, each from the last one's checkpoints (scripts/train_spg.py; ARGS="--fraction 0.01")
	$(BIN)/python scripts/train_spg.py $(ARGS)

train-e2e:  ## joint fine-tuning of the chained stages (configs/e2e.yaml; needs the stage checkpoints)
	$(VTON) fit -c configs/e2e.yaml $(ARGS)

smoke:  ## every stage and the chain for 4 steps with the CPU preset configs/tiny/ (about 4 min on 2 cores; outputs/smoke/)
	$(BIN)/python scripts/smoke_cpu.py $(ARGS)

attribute-classifier: $(DATA_DIR)/synthetic_mpv/data_pair.txt  ## train the synthetic set's garment attribute classifier for AttrRec-k / FashionIS (CPU, minutes; into torch's cache)
	$(BIN)/python scripts/train_attribute_classifier.py --root $(DATA_DIR)/synthetic_mpv $(ARGS)

eval:  ## full evaluation table of the chain on the test split (ARGS="--ckpt_path outputs/e2e/checkpoints/last.ckpt")
	$(VTON) test -c configs/e2e.yaml $(ARGS)

predict:  ## try-on results for a list of inputs (ARGS="--data.predict_list my_list.csv --ckpt_path ...")
	$(VTON) predict -c configs/e2e.yaml $(ARGS)

bench: bench-infer bench-train bench-data  ## GPU speed and memory: inference, training steps, data (about 45 minutes on one H200)

bench-infer:  ## inference of every stage and the chain, eager and compiled (about 8 minutes on one H100 / H200)
	$(BIN)/python scripts/bench_gpu.py $(ARGS)

bench-train:  ## training steps (paper and preset batch, eager and fast), each lever, loss curves (about 30 minutes)
	$(BIN)/python scripts/bench_train.py $(ARGS)

bench-data:  ## the train loader per batch_transforms mode, with 16 workers (about 2 minutes)
	$(BIN)/python scripts/bench_data.py $(ARGS)

bench-synth:  ## time synthetic data generation on this CPU (writes figures to stdout)
	$(BIN)/python scripts/bench_synth.py $(ARGS)

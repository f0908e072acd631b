# Two commands on a fresh machine: `make rate` and `make test`.
# Both create .venv if missing, install the CPU build of torch when no GPU is present
# (torch==2.13.0, from local disk on our machines), then the package with its extras.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.minimax-installed
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo 1)
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS ?= 1

# gpu-check runs on the GPU machine as it is: no install, the venv's Python when there is one,
# else python3 (see docs/gpu.md); its results go to GPU_CHECK_OUT
GPU_PY := $(if $(wildcard $(PY)),$(PY),$(shell command -v python3 || command -v python))
GPU_CHECK_OUT ?= benchmarks/results/gpu-check

.PHONY: setup test test-fast rate bench gpu-check lint paper quick clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
ifeq ($(HAS_GPU),)
	$(PY) -m pip install -q torch==2.13.0
endif
	$(PY) -m pip install -q -c constraints.txt -e '.[dev,dask]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile

test-fast: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile -m 'not slow'

rate: $(STAMP)
	$(PY) -m minimax.study rate --D 2 --s 1.5

quick: $(STAMP)
	$(PY) -m minimax.study sweep studies/quick.toml --out results/quick

bench: $(STAMP)
	$(PY) -m benchmarks

# the paper's headline study (the confirmatory one, studies/confirm.toml, rescored with the
# current estimator on the same fits: studies/recompute_confirm.toml, rerun in the tenth session
# with the four-quarter stability check) and its tuning
# studies (reported as exploration: the seed-0 recipe studies, the D = 1 band one both as first
# scored and as recomputed with the calibrated TV, the D = 2 smooth one at M = 200,000 as
# recomputed and rerun at the resolution rule's M, with the grid guard 0.99 and 0.9)
PAPER_RESULTS ?= results/recompute/confirm_quarter_check
PAPER_EXPLORATION ?= results/recipe_D1_s1_band results/recompute/recipe_D1_s1_band \
	results/recipe_D1_s1_smooth results/recompute/recipe_D2_s1.5_smooth \
	results/recipe_D2_s1.5_smooth_rule_m results/recipe_D2_s1.5_smooth_rule_m_guard09
# the DDPM's samples against q: confirmatory cells refitted from their seeds (the samples
# command; its recomputed TVs must equal the stored ones)
PAPER_SAMPLES ?= results/confirm_samples
# "Does a diffusion model adapt?": the sparse-target study (studies/adaptivity.toml), rerun at
# the current code (sixteenth session; the first run's fits no longer come back: results/reproducibility)
PAPER_ADAPTIVITY ?= results/recompute/adaptivity
# "Beside the DDPM: a GAN and a VAE": the confirmatory generative study
# (studies/generative_confirm.toml), rescored with the four-quarter stability check
# (studies/generative_confirm_rescore.toml: D = 1 every model, D = 2 all but the DDPM)
PAPER_GENERATIVE ?= results/recompute/generative_confirm_rescore
# its D = 2 DDPM sampled again with dpm2m at the resolution rule's M (studies/generative_confirm_dpm2m.toml),
# rescored with the four-quarter stability check
PAPER_GENERATIVE_RESAMPLED ?= results/recompute/generative_confirm_dpm2m
# the headline's calibration arm with 20 replicates per (seed, n) (studies/calibration_replicates_confirm.toml)
PAPER_CALIBRATION ?= results/calibration/replicates/confirm
# the GAN/VAE study's calibration arm with 20 replicates per n (studies/calibration_replicates_generative_confirm.toml)
PAPER_GENERATIVE_CALIBRATION ?= results/calibration/replicates/generative_confirm

paper: $(STAMP)
	$(PY) -m minimax.study paper $(PAPER_RESULTS) \
	    $(if $(strip $(PAPER_EXPLORATION)),--exploration $(PAPER_EXPLORATION)) \
	    $(if $(wildcard $(PAPER_SAMPLES)/samples.json),--samples $(PAPER_SAMPLES)) \
	    $(if $(wildcard $(PAPER_ADAPTIVITY)/results.parquet),--adaptivity $(PAPER_ADAPTIVITY)) \
	    $(if $(wildcard $(PAPER_GENERATIVE)/results.parquet),--generative $(PAPER_GENERATIVE)) \
	    $(if $(wildcard $(PAPER_GENERATIVE_RESAMPLED)/results.parquet),--generative-resampled $(PAPER_GENERATIVE_RESAMPLED)) \
	    $(if $(wildcard $(PAPER_CALIBRATION)/results.parquet),--calibration $(PAPER_CALIBRATION)) \
	    $(if $(wildcard $(PAPER_GENERATIVE_CALIBRATION)/results.parquet),--generative-calibration $(PAPER_GENERATIVE_CALIBRATION)) \
	    --out paper
	@if command -v latexmk >/dev/null 2>&1; then \
	    cd paper && latexmk -pdf -interaction=nonstopmode -halt-on-error main.tex; \
	 else echo "no LaTeX toolchain: figures, tables and text regenerated; to build paper/main.pdf" \
	    "install TeX: apt-get install latexmk texlive-latex-extra texlive-fonts-recommended texlive-science"; fi

gpu-check:
	PYTHONPATH=. $(GPU_PY) benchmarks/gpu_check.py --out $(GPU_CHECK_OUT)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info

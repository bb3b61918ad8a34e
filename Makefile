# labelport: `make demo` sets everything up and runs the main job; `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test no-regen-in-ci goldens lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/labelport demo --out demo-exports

# Label Studio's own converter reads our Label Studio exports in the tests; its SDK pulls in
# OpenCV, pandas and nltk, so it lives in a venv of its own rather than in the dev extra.
LS_VENV ?= .venv-labelstudio

$(LS_VENV)/.installed:
	$(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/python -m pip install --quiet "label-studio-sdk==2.1.2"
	touch $@

# A real Label Studio server imports our Label Studio exports and exports them back in the tests
# (tests/formats/labelstudio_server.py). Its database is migrated once here, into a template the
# tests copy: migrating a fresh one takes about two minutes, starting from the copy ten seconds.
LS_SERVER_VENV ?= .venv-labelstudio-server
LS_SERVER_ENV := LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true LATEST_VERSION_CHECK=false

$(LS_SERVER_VENV)/.installed:
	$(PYTHON) -m venv $(LS_SERVER_VENV)
	$(LS_SERVER_VENV)/bin/python -m pip install --quiet "label-studio==1.23.2"
	rm -rf $(LS_SERVER_VENV)/template
	$(LS_SERVER_ENV) $(LS_SERVER_VENV)/bin/label-studio init --data-dir $(LS_SERVER_VENV)/template \
	  --username labelport@example.com --password labelport-test --user-token labelport-test-token
	touch $@

# Datumaro reads our exports in the tests (tests/side_python.py); it pins numpy, pandas and
# OpenCV versions of its own, so it gets a venv of its own too.
DATUMARO_VENV ?= .venv-datumaro

$(DATUMARO_VENV)/.installed:
	$(PYTHON) -m venv $(DATUMARO_VENV)
	$(DATUMARO_VENV)/bin/python -m pip install --quiet "datumaro==1.13.12"
	touch $@

# Ultralytics' dataset code (check_det_dataset, YOLODataset) reads our YOLO exports in the
# tests. It needs torch: 2.13.0 is the CPU build on this machine's disk (pip's find-links), a
# plain `pip install ultralytics` would fetch a CUDA build of several GB. torchvision is there
# for its version metadata only (the dataset code never imports it), hence --no-deps; its other
# imports are listed by hand (OpenCV headless in place of opencv-python; matplotlib for
# check_det_dataset's font check).
ULTRALYTICS_VENV ?= .venv-ultralytics

$(ULTRALYTICS_VENV)/.installed:
	$(PYTHON) -m venv $(ULTRALYTICS_VENV)
	$(ULTRALYTICS_VENV)/bin/python -m pip install --quiet "torch==2.13.0"
	$(ULTRALYTICS_VENV)/bin/python -m pip install --quiet "numpy==2.4.6" \
	  "opencv-python-headless==5.1.0.95" "pillow==13.0.0" "pyyaml==6.0.4" "requests==2.34.2" \
	  "psutil==7.2.2" "matplotlib==3.11.2"
	$(ULTRALYTICS_VENV)/bin/python -m pip install --quiet --no-deps "ultralytics==8.4.190" \
	  "ultralytics-thop==2.2.3" "torchvision==0.28.0"
	touch $@

# A run that regenerates the goldens and then compares with them proves nothing: in CI it stops
# here, before anything is installed (tests/conftest.py refuses it again for a bare pytest).
no-regen-in-ci:
	@if [ -n "$$CI" ] && [ -n "$$LABELPORT_REGEN_GOLDEN" ]; then \
	  echo "LABELPORT_REGEN_GOLDEN is set in CI (CI=$$CI): refusing to regenerate the goldens;" \
	    "run make goldens on a developer machine and commit the reviewed files" >&2; exit 2; fi

# The Segments.ai SDK loads our segments releases in the tests (SegmentsDataset).
SEGMENTS_VENV ?= .venv-segments

$(SEGMENTS_VENV)/.installed:
	$(PYTHON) -m venv $(SEGMENTS_VENV)
	$(SEGMENTS_VENV)/bin/python -m pip install --quiet "segments-ai==1.33.0"
	touch $@

test: no-regen-in-ci $(VENV)/.installed-dev $(LS_VENV)/.installed $(DATUMARO_VENV)/.installed \
	  $(ULTRALYTICS_VENV)/.installed $(LS_SERVER_VENV)/.installed $(SEGMENTS_VENV)/.installed
	LABELPORT_LS_PYTHON=$(abspath $(LS_VENV))/bin/python \
	LABELPORT_LS_SERVER_PYTHON=$(abspath $(LS_SERVER_VENV))/bin/python \
	LABELPORT_DATUMARO_PYTHON=$(abspath $(DATUMARO_VENV))/bin/python \
	LABELPORT_ULTRALYTICS_PYTHON=$(abspath $(ULTRALYTICS_VENV))/bin/python \
	LABELPORT_SEGMENTS_PYTHON=$(abspath $(SEGMENTS_VENV))/bin/python \
	$(BIN)/python -m pytest

# Rewrite the golden files under tests/data/golden from the current writers and list which
# changed, to review before committing them. Refused when CI is set (tests/regenerate_goldens.py).
goldens: no-regen-in-ci $(VENV)/.installed-dev
	$(BIN)/python -m tests.regenerate_goldens

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/stream_bench.py

clean:
	rm -rf demo-exports .pytest_cache

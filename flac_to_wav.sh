#!/usr/bin/env bash
# Convert every .flac below a folder to a 16 kHz mono 16-bit .wav beside it (same name).
#
#   cd LibriSpeech && ../flac_to_wav.sh        # or: ./flac_to_wav.sh LibriSpeech
#
# Decoding is done by create_desc_json.convert_many (Python + soundfile, soxr to resample) rather
# than ffmpeg or sox: sox prints FAIL on a truncated flac yet exits 0 with a partial wav, and one
# decoder that checks every clip decodes completely is simpler than three that need checking.
#
# Safe to re-run: a wav newer than its flac is skipped, and each wav is written under a temp name
# and renamed into place, so an interrupted run leaves no partial wav. A flac that does not decode
# completely (e.g. a truncated download) is reported on stderr and gets no wav.
#
# Python: $VUI_PYTHON if set, else the project's .venv, else python3.
# Exit status: 0 all converted (or up to date), 1 some flac unreadable (the rest converted),
#              2 bad argument, no Python with soundfile, or the converter stopped early.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"  # the project root, where create_desc_json.py is
DIR="${1:-.}"

# Reads NUL-separated flac paths on stdin, prints "<converted> <failed>" on stdout.
CONVERT='
import os, sys
sys.path.insert(0, sys.argv[1])
from create_desc_json import convert_many
paths = [os.fsdecode(p) for p in sys.stdin.buffer.read().split(b"\0") if p]
print(*convert_many(paths))
'

find_python() {
    local candidate
    for candidate in "${VUI_PYTHON:-}" "$HERE/.venv/bin/python" python3; do
        if [ -n "$candidate" ] && "$candidate" -c 'import soundfile, soxr' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

if [ ! -d "$DIR" ]; then
    echo "flac_to_wav: $DIR is not a folder; usage: flac_to_wav.sh [DIR]" >&2
    exit 2
fi
if ! PYTHON="$(find_python)"; then
    echo "flac_to_wav: no Python with soundfile and soxr; run 'pip install -r requirements.txt'" \
         "in the project's .venv or set VUI_PYTHON" >&2
    exit 2
fi

found=0
skipped=0
todo=()
while IFS= read -r -d '' flac; do
    found=$((found + 1))
    wav="${flac%.flac}.wav"
    if [ -f "$wav" ] && [ "$wav" -nt "$flac" ]; then
        skipped=$((skipped + 1))
    else
        todo+=("$flac")
    fi
done < <(find "$DIR" -type f -name '*.flac' -print0 | sort -z)

if [ "$found" -eq 0 ]; then
    echo "flac_to_wav: no .flac files under $DIR" >&2
fi

converted=0
failed=0
if [ "${#todo[@]}" -gt 0 ]; then
    # One Python process for all files: starting one per clip would dominate the run time.
    # Its exit status is 1 when a clip failed; the counts it prints say so too.
    counts="$(printf '%s\0' "${todo[@]}" | "$PYTHON" -c "$CONVERT" "$HERE")" || true
    if ! read -r converted failed <<< "$counts" || [ -z "$failed" ]; then
        echo "flac_to_wav: the converter stopped early (see the error above); re-run to continue" >&2
        exit 2
    fi
fi

echo "flac_to_wav: converted $converted, skipped $skipped (wav up to date), failed $failed"
if [ "$failed" -gt 0 ]; then
    exit 1
fi

"""distributed.py: two worker processes on localhost train one model together."""
import json
import math
import os
import pickle
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import distributed

ROOT = Path(__file__).resolve().parents[1]
SPEC = {"function": "rnn_model", "kwargs": {"input_dim": 161, "units": 16, "activation": "tanh"}}
EPOCHS = 2
MINIBATCH = 4  # several batches of the tiny corpus, so each worker has its own shard
TIMEOUT_S = 600  # two TensorFlow processes on a busy 2-core machine start slowly


def free_ports(n):
    """n ports free right now (held open together so they differ)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def start_workers(corpus, results_dirs, logs):
    workers = ",".join(f"localhost:{port}" for port in free_ports(len(results_dirs)))
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("TF_CONFIG", None)
    processes = []
    for index, (results, log) in enumerate(zip(results_dirs, logs)):
        cmd = [sys.executable, str(ROOT / "distributed.py"), "--worker-index", str(index), "--workers", workers,
               "--model-spec", json.dumps(SPEC), "--pickle-path", "m.pickle", "--save-model-path", "m.h5",
               "--train-json", str(corpus / "train_corpus.json"), "--valid-json", str(corpus / "valid_corpus.json"),
               "--epochs", str(EPOCHS), "--minibatch-size", str(MINIBATCH), "--results-dir", str(results)]
        with open(log, "w") as out:
            processes.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT))
    return processes


def wait_all(processes, timeout):
    """Exit codes; every process still running at the deadline is killed (a hung collective must not hang us)."""
    deadline = time.time() + timeout
    try:
        return [p.wait(timeout=max(1.0, deadline - time.time())) for p in processes]
    except subprocess.TimeoutExpired:
        return None
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_shard_plan_gives_every_worker_the_same_steps_and_every_batch_once():
    for n_batches in range(1, 8):
        for workers in (1, 2, 3):
            plan = distributed.shard_plan(n_batches, workers)
            assert all(len(step) == workers for step in plan)
            real = sorted(position for step in plan for position, weight in step if weight)
            assert real == list(range(n_batches))
            assert plan[0][0] == (0, 1.0)  # the chief always has a real batch: no step is empty


def test_two_local_workers_train_one_model(tiny_corpus, tmp_path):
    results = [tmp_path / "chief", tmp_path / "worker1"]
    logs = [tmp_path / "chief.log", tmp_path / "worker1.log"]
    codes = wait_all(start_workers(tiny_corpus, results, logs), TIMEOUT_S)
    outputs = [log.read_text() for log in logs]
    report = "\n".join(f"--- worker {i}:\n{out[-3000:]}" for i, out in enumerate(outputs))
    assert codes == [0, 0], f"exit codes {codes} (None: timed out)\n{report}"

    history = pickle.load(open(results[0] / "m.pickle", "rb"))
    assert len(history["loss"]) == EPOCHS and len(history["val_loss"]) == EPOCHS, report
    assert all(math.isfinite(v) for v in history["loss"] + history["val_loss"]), history
    assert history["stopped"] is None and history["epochs_planned"] == EPOCHS
    assert history["loss"][1] < history["loss"][0], history  # it learns (a drop of about a third here)
    assert history["build"]["function"] == "rnn_model" and history["features"]["spectrogram"] is True
    assert "Epoch 2/2" in outputs[0] and "Epoch" not in outputs[1]  # one line per epoch, on the chief only
    assert not results[1].exists()  # the other worker writes nothing

    # the workers applied the same updates: their final weights agree
    checksums = [float(re.search(r"weights checksum (\S+)", out).group(1)) for out in outputs]
    assert checksums[0] == checksums[1], checksums

    import sample_models

    fresh = sample_models.build_from_spec(history["build"])
    fresh.load_weights(results[0] / "m.h5")
    x = np.random.default_rng(0).normal(size=(1, 50, 161)).astype("float32")
    assert np.isfinite(fresh.predict(x, verbose=0)).all()
    assert math.isclose(distributed.weights_checksum(fresh), checksums[0], abs_tol=1e-5)  # the final weights
    assert not list(results[0].glob(".*"))  # no temporary files left behind

"""Train one acoustic model on several machines at once (data parallel, synchronous).

Every machine (a *worker*) holds a full copy of the model. At each step every worker computes the
gradient of its own batch, the gradients are summed over the network, and every worker applies the
same update, so the copies stay identical. Two workers go through an epoch in about half the steps.

How to run it
-------------
1. Give every machine the same project, virtualenv and corpus (the same clips and transcripts; the
   folders may differ, each machine's ``train_corpus.json`` / ``valid_corpus.json`` name its own).
2. Pick one free TCP port on each machine and list them all, in the same order everywhere:
   ``--workers hostA:12345,hostB:12345``. The ports must be reachable from the other machines.
3. Run the same command on every machine, changing only ``--worker-index`` (its place in the list)::

       # on hostA
       python distributed.py --worker-index 0 --workers hostA:12345,hostB:12345 \\
           --model-spec '{"function": "rnn_model", "kwargs": {"input_dim": 161, "units": 200, "activation": "relu"}}' \\
           --pickle-path model_1.pickle --save-model-path model_1.h5 --epochs 20
       # on hostB: the same with --worker-index 1

   ``--model-spec`` is a model's ``build_spec`` (``sample_models.rnn_model(...).build_spec`` prints it).
   Other options: ``--train-json``, ``--valid-json``, ``--minibatch-size`` (clips per batch on each
   worker), ``--mfcc`` / ``--mfcc-dim``, ``--results-dir``, ``--verbose``.
   To try it on one machine, start the two commands in two terminals with ``localhost`` ports.

Each worker waits for the others at start-up; a worker that dies stops the others with an error.
Only worker 0 (the chief) prints the epoch lines and writes ``results/<pickle-path>`` (the same history
dict as ``train_utils.train_model``) and ``results/<save-model-path>``, loadable with
``sample_models.build_from_spec(history["build"]).load_weights(...)``; the other workers write nothing.
Unlike ``train_model`` an interrupted run starts again from the first epoch.

From Python, call ``train_multi_worker`` in each worker process with its ``TF_CONFIG`` set, e.g.
``{"cluster": {"worker": ["hostA:12345", "hostB:12345"]}, "task": {"type": "worker", "index": 0}}``.
(Keras ``fit`` under MultiWorkerMirroredStrategy fails in Keras 3, keras-team/keras#20585, hence the
custom training loop here.)
"""
import argparse
import json
import math
import os
import time
import zlib
from pathlib import Path

import utils  # first: it quiets TensorFlow's loading before anything imports it
import numpy as np
import tensorflow as tf

import sample_models
import train_utils
from data_generator import AudioGenerator, pack_ctc_targets
from train_utils import ctc_loss, epoch_line, save_history, save_model_file, stopped_line, undefined_loss
from utils import Features

FINGERPRINT_MODULUS = 2 ** 24  # the corpus fingerprint travels as a float32: it must stay exact
SUM = tf.distribute.ReduceOp.SUM


# ------------------------------------------------------------------------------------------ cluster
def tf_config(workers, index):
    """The TF_CONFIG value of worker ``index`` in a cluster of ``workers`` ("host:port" strings)."""
    if not 0 <= index < len(workers):
        raise ValueError(f"--worker-index {index} is not a place in the {len(workers)} workers {workers}")
    return json.dumps({"cluster": {"worker": list(workers)}, "task": {"type": "worker", "index": index}})


def worker_rank(strategy):
    """(this worker's place, number of workers); a "chief" task, if the cluster has one, comes first."""
    resolver = strategy.cluster_resolver
    spec = resolver.cluster_spec().as_dict() if resolver is not None else {}
    chiefs, workers = len(spec.get("chief", [])), len(spec.get("worker", []))
    if not chiefs + workers:  # no TF_CONFIG: a cluster of one
        return 0, 1
    if resolver.task_type == "chief":
        return 0, chiefs + workers
    return chiefs + resolver.task_id, chiefs + workers


def local_replicas(strategy):
    """Replicas (devices) on this worker; every worker has as many."""
    return strategy.num_replicas_in_sync // worker_rank(strategy)[1]


# ------------------------------------------------------------------------------------------ sharding
def shard_plan(n_batches, num_workers):
    """Which batch each worker takes at each step: ``plan[step][worker] = (batch position, weight)``.

    Worker w takes positions w, w + W, w + 2W, ... of the epoch's batch order. Every worker must run
    the same number of steps (each step is a collective operation that waits for all of them), so a
    worker left without a batch at the last step repeats an earlier one with weight 0: it joins the
    gradient sum with nothing, and every clip still counts exactly once per epoch.
    """
    steps = math.ceil(n_batches / num_workers)
    return [[(p % n_batches, 1.0 if p < n_batches else 0.0)
             for p in range(step * num_workers, (step + 1) * num_workers)] for step in range(steps)]


def step_clips(batches, assignments):
    """Real clips (weight 1) in one step over all workers: the denominator of that step's mean loss."""
    return sum(len(batches[position]) for position, weight in assignments if weight)


# ------------------------------------------------------------------------------------------ data
def corpus_fingerprint(audio_gen):
    """Clip counts and a checksum of (duration, transcript) per partition; paths may differ by machine."""
    values = []
    for partition in ("train", "valid"):
        clips = audio_gen.clips(partition)
        described = json.dumps([[round(d, 3), t] for d, t in zip(clips.durations, clips.texts)]).encode()
        values += [len(clips), zlib.crc32(described) % FINGERPRINT_MODULUS]
    return values


def batch_tensors(audio_gen, partition, indices, output_length):
    """One batch as the step functions take it: features (B, T, F) and packed CTC targets (B, L)."""
    inputs, _ = audio_gen.get_batch(partition, indices)
    frames = [int(output_length(int(n))) for n in inputs["input_length"]]
    labels = [row[:n] for row, n in zip(inputs["the_labels"], inputs["label_length"])]
    return inputs["the_input"], pack_ctc_targets(labels, frames)


# ------------------------------------------------------------------------------------------ collectives
def gather_from_workers(strategy, values):
    """Every replica's ``values`` (a list of floats), as an array with one row per replica."""
    row = tf.constant([values], dtype=tf.float32)

    @tf.function
    def gather():
        return tf.distribute.get_replica_context().all_gather(row, axis=0)

    return strategy.experimental_local_results(strategy.run(gather))[0].numpy()


def check_same_corpus(strategy, audio_gen):
    """Raise on every worker alike when the workers read different corpora.

    Each worker builds the batch order itself; with other clips the shards would overlap or miss clips.
    """
    rows = gather_from_workers(strategy, corpus_fingerprint(audio_gen))
    if not (rows == rows[0]).all():
        raise RuntimeError("the workers read different corpora (train clips, train checksum, valid clips, "
                           f"valid checksum, one row per worker):\n{rows}\ngive every machine the same "
                           "train_corpus.json / valid_corpus.json clips")


def assign_weighted_sum(strategy, variables, share):
    """Set ``variables`` on every worker to the sum over replicas of ``share`` x each replica's value."""
    @tf.function
    def weighted_sum():
        return tf.distribute.get_replica_context().all_reduce(SUM, [v.value * share for v in variables])

    values = strategy.experimental_local_results(strategy.run(weighted_sum))[0]
    for variable, value in zip(variables, values):
        variable.assign(value)


def float_weights(model, trainable=None):
    """The model's float variables: all, or only the (non-)trainable ones."""
    chosen = {None: model.weights, True: model.trainable_weights, False: model.non_trainable_weights}[trainable]
    return [v for v in chosen if v.dtype.startswith("float")]


def copy_chief_weights(strategy, model, is_chief):
    """Give every worker the chief's weights, whatever each worker started from."""
    share = 1.0 / local_replicas(strategy) if is_chief else 0.0  # the chief's copies sum to one copy
    assign_weighted_sum(strategy, float_weights(model), share)


def average_statistics(strategy, model):
    """Average the non-trainable weights (batch norm's moving mean and variance) over the workers.

    Gradients keep the trainable weights identical everywhere, but each worker updates its moving
    statistics from its own batches only; averaging them makes the workers agree again, and the
    saved model carry statistics of the whole epoch's data.
    """
    variables = float_weights(model, trainable=False)
    if variables:
        assign_weighted_sum(strategy, variables, 1.0 / strategy.num_replicas_in_sync)


def clip_globally(optimizer, grads, replicas):
    """Clip the summed gradient as the optimizer would on one machine; return each replica's share.

    The Keras optimizer clips each replica's partial gradient before it sums them, which with two
    workers lets the total grow to twice ``clipnorm``. Summing first, clipping, and handing back
    1/replicas of the result makes the optimizer's own clip a no-op and its sum the clipped total.
    """
    if not (optimizer.clipnorm or optimizer.global_clipnorm or optimizer.clipvalue):
        return grads  # nothing to clip: the optimizer's single sum is enough
    total = tf.distribute.get_replica_context().all_reduce(SUM, grads)
    if optimizer.clipnorm:
        total = [tf.clip_by_norm(g, optimizer.clipnorm) for g in total]
    elif optimizer.global_clipnorm:
        total, _ = tf.clip_by_global_norm(total, optimizer.global_clipnorm)
    else:
        total = [tf.clip_by_value(g, -optimizer.clipvalue, optimizer.clipvalue) for g in total]
    return [g / replicas for g in total]


# ------------------------------------------------------------------------------------------ steps
def make_steps(strategy, model, optimizer, feat_dim):
    """Compiled training and validation steps; each returns the loss summed over all workers' clips.

    Arguments: features, packed targets, the batch's weight (1, or 0 for a repeated batch) and the
    step's clip count over all workers. The None dimensions let one trace serve every batch length.
    """
    signature = [tf.TensorSpec((None, None, feat_dim), tf.float32), tf.TensorSpec((None, None), tf.int32),
                 tf.TensorSpec((), tf.float32), tf.TensorSpec((), tf.int32)]
    replicas = strategy.num_replicas_in_sync
    # several devices on one worker all get its whole batch: each counts for its share of it
    per_device = 1.0 / local_replicas(strategy)

    def train_replica(x, y, weight, global_clips):
        with tf.GradientTape() as tape:
            per_clip = ctc_loss(y, model(x, training=True)) * (weight * per_device)
            loss = tf.nn.compute_average_loss(per_clip, global_batch_size=global_clips)
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
        grads = tape.gradient(loss, model.trainable_variables)
        grads = clip_globally(optimizer, grads, replicas)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return tf.reduce_sum(per_clip)

    def valid_replica(x, y, weight, global_clips):
        return tf.reduce_sum(ctc_loss(y, model(x, training=False)) * (weight * per_device))

    def compiled(replica_fn):
        @tf.function(input_signature=signature)
        def step(x, y, weight, global_clips):
            per_replica = strategy.run(replica_fn, args=(x, y, weight, global_clips))
            return strategy.reduce(SUM, per_replica, axis=None)

        return step

    return compiled(train_replica), compiled(valid_replica)


def run_epoch(step, audio_gen, partition, output_length, rank, num_workers):
    """One pass over a partition: (mean loss per clip, None), or (nan, step number) at a bad loss.

    The summed loss is the same on every worker, so all of them stop at the same step.
    """
    batches = audio_gen.batch_order(partition)  # the same order everywhere: the generator's rng is seeded
    total, clips = 0.0, 0
    for number, assignments in enumerate(shard_plan(len(batches), num_workers)):
        position, weight = assignments[rank]
        count = step_clips(batches, assignments)
        x, y = batch_tensors(audio_gen, partition, batches[position], output_length)
        loss_sum = float(step(x, y, weight, count))
        if not math.isfinite(loss_sum):
            return float("nan"), number
        total, clips = total + loss_sum, clips + count
    return total / clips, None


# ------------------------------------------------------------------------------------------ training
def model_spec(input_to_softmax):
    """The build_spec of a model, a spec dict, or a spec as JSON text."""
    if isinstance(input_to_softmax, str):
        input_to_softmax = json.loads(input_to_softmax)
    spec = input_to_softmax if isinstance(input_to_softmax, dict) else getattr(input_to_softmax, "build_spec", None)
    if not isinstance(spec, dict) or "function" not in spec:
        raise TypeError("pass a sample_models build_spec ({'function': ..., 'kwargs': ...}) or a model built "
                        "by sample_models (it carries build_spec)")
    return train_utils.plain(spec)


def weights_checksum(model):
    """Sum of every weight: equal on all workers when they stayed in step."""
    return float(sum(np.sum(np.asarray(w, dtype=np.float64)) for w in model.get_weights()))


def train_multi_worker(input_to_softmax, pickle_path, save_model_path, train_json=None, valid_json=None,
                       minibatch_size=20, spectrogram=True, mfcc_dim=utils.MFCC_DIM, optimizer_factory=None, epochs=20,
                       results_dir=None, verbose=1):
    """Train on every worker of the cluster in TF_CONFIG; the chief writes the history and the model.

    Call it in each worker process. Params as ``train_utils.train_model``, except:
        input_to_softmax: a build_spec dict (or JSON text), or a sample_models model: the model is
            rebuilt inside the strategy's scope and starts from the chief's weights
        minibatch_size: clips per batch on each worker (a step trains on workers x minibatch_size)
        optimizer_factory: a function returning a fresh Keras optimizer (default
            ``train_utils.default_optimizer``); it is called inside the strategy's scope
        train_json, valid_json, results_dir: None means train_utils' defaults
    Returns the history dict (the chief also pickles it).
    """
    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # first: it sets up the cluster's collectives
    rank, num_workers = worker_rank(strategy)
    is_chief = rank == 0
    spec = model_spec(input_to_softmax)
    features = Features.of(spectrogram, mfcc_dim)
    utils.quiet_logging()
    with strategy.scope():
        model = sample_models.build_from_spec(spec)
        train_utils.check_features(model, features)
        if not isinstance(input_to_softmax, (dict, str)):
            model.set_weights(input_to_softmax.get_weights())
        optimizer = (optimizer_factory or train_utils.default_optimizer)()
        optimizer.build(model.trainable_variables)
    copy_chief_weights(strategy, model, is_chief)

    train_json = train_json or train_utils.DEFAULTS["train_json"]
    audio_gen = AudioGenerator.for_training(train_json, valid_json or train_utils.DEFAULTS["valid_json"],
                                            model.output_length, progress=bool(verbose) and is_chief,
                                            features=features, minibatch_size=minibatch_size)
    check_same_corpus(strategy, audio_gen)
    train_step, valid_step = make_steps(strategy, model, optimizer, features.width)

    results = Path(results_dir or train_utils.DEFAULTS["results_dir"])
    pickle_file, model_file = results / pickle_path, results / save_model_path
    history = train_utils.new_history(spec, features, epochs, train_json)
    talk = bool(verbose) and is_chief
    if talk:
        print(f"{num_workers} workers: training {len(audio_gen.train_audio_paths)} clips, validating on "
              f"{len(audio_gen.valid_audio_paths)}, batches of {minibatch_size} per worker", flush=True)
    for epoch in range(epochs):
        started = time.time()
        loss, bad_step = run_epoch(train_step, audio_gen, "train", model.output_length, rank, num_workers)
        average_statistics(strategy, model)  # before validation: every worker validates the same model
        val_loss, _ = run_epoch(valid_step, audio_gen, "valid", model.output_length, rank, num_workers) \
            if bad_step is None else (float("nan"), None)
        seconds = time.time() - started
        if not (math.isfinite(loss) and math.isfinite(val_loss)):
            history["stopped"] = undefined_loss(epoch, bad_step)
            if is_chief:  # the weights on disk stay those of the last good epoch
                save_history(history, pickle_file)
            if talk:
                print(stopped_line(epoch, epochs, history["stopped"], model_file), flush=True)
            break
        history["loss"].append(loss)
        history["val_loss"].append(val_loss)
        history["epoch_seconds"].append(round(seconds, 2))
        if is_chief:
            save_model_file(model, model_file)
            audio_gen.save_normalisation(model_file, train_json)  # the statistics belong to the model
            save_history(history, pickle_file)  # last: it marks the epoch as done
        if talk:
            print(epoch_line(epoch, epochs, seconds, loss, val_loss), flush=True)
    if verbose:
        print(f"worker {rank}/{num_workers} done: {len(history['loss'])} epochs, weights checksum "
              f"{weights_checksum(model):.6f}", flush=True)
    return history


# ------------------------------------------------------------------------------------------ command line
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Train one model on several machines; run the same command "
                                                 "on each machine with its own --worker-index.",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--worker-index", type=int, required=True, help="this machine's place in --workers")
    parser.add_argument("--workers", required=True, help="host:port of every worker, comma separated")
    parser.add_argument("--model-spec", required=True,
                        help='a sample_models build_spec as JSON: {"function": ..., "kwargs": {...}}')
    parser.add_argument("--pickle-path", required=True, help="history file name, in the results folder")
    parser.add_argument("--save-model-path", required=True, help="model file name (.h5), in the results folder")
    parser.add_argument("--train-json", default=None, help="training corpus description (None: train_corpus.json)")
    parser.add_argument("--valid-json", default=None, help="validation corpus description (None: valid_corpus.json)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs to train")
    parser.add_argument("--minibatch-size", type=int, default=20, help="clips per batch on each worker")
    parser.add_argument("--mfcc", action="store_true", help="MFCC features instead of the spectrogram")
    parser.add_argument("--mfcc-dim", type=int, default=utils.MFCC_DIM, help="MFCC coefficients per frame, with --mfcc")
    parser.add_argument("--results-dir", default=None, help="where the files go (None: results)")
    parser.add_argument("--verbose", type=int, default=1, help="1: a line per epoch; 0: quiet")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    workers = [w.strip() for w in args.workers.split(",") if w.strip()]
    os.environ["TF_CONFIG"] = tf_config(workers, args.worker_index)
    train_multi_worker(json.loads(args.model_spec), args.pickle_path, args.save_model_path,
                       train_json=args.train_json, valid_json=args.valid_json,
                       minibatch_size=args.minibatch_size, spectrogram=not args.mfcc, mfcc_dim=args.mfcc_dim,
                       epochs=args.epochs, results_dir=args.results_dir, verbose=args.verbose)


if __name__ == "__main__":
    main()

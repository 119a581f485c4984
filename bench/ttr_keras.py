"""A time-to-result job written in Keras 3 on its JAX backend: ``python bench/ttr_keras.py JOB``.

``model.fit`` over the job's epochs and batch size with Adam at 1e-3, then ``model.evaluate`` on
the test split; prints ``{"metric": ..., "value": ...}``.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
from hand_keras import network
from ttr_data import LOADERS
from ttr_jobs import JOBS
from workloads import BY_NAME


def main() -> None:
    job = JOBS[sys.argv[1]]
    w = BY_NAME[job.workload]
    data = LOADERS[job.name]()
    keras.utils.set_random_seed(0)
    model = network(w.family, w.sizes, softmax=job.metric == "accuracy")
    if job.metric == "accuracy":
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
    else:
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    model.fit(data.x_train, data.y_train, batch_size=job.batch, epochs=job.epochs, shuffle=True, verbose=0)
    result = model.evaluate(data.x_test, data.y_test, verbose=0, return_dict=True)
    value = result["accuracy"] if job.metric == "accuracy" else result["loss"]
    print(json.dumps({"metric": job.metric, "value": float(value)}))


if __name__ == "__main__":
    main()

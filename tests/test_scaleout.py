"""diagnose_many on a 2-worker Dask LocalCluster equals one process (docs/scaleout.md)."""
import pickle

import dask
import numpy as np
import pandas as pd
import pytest

from model import scaleout
from model.evaluation import load_cases

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

ROWS = 2000


@pytest.fixture(scope="module")
def cases(data_dir):
    frame = load_cases(data_dir / "cases.csv").head(ROWS)
    frame = frame.drop(columns=["true_conditions", "gold_triage"])
    return frame.reset_index()  # 'case' becomes a column: passed through with keep=


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


def assert_same_results(got, expected):
    assert list(got.columns) == list(expected.columns)
    assert got["case"].tolist() == expected["case"].tolist()
    for column in ("triage_level", "top_condition"):
        assert got[column].astype(str).tolist() == expected[column].astype(str).tolist()
    numbers = expected.select_dtypes("number").columns.drop("case")
    # bit for bit: a row is answered as if alone, so neither the partitioning nor the worker
    # process changes it
    np.testing.assert_array_equal(got[numbers].to_numpy(), expected[numbers].to_numpy())


def test_dask_local_cluster_equals_one_process(model, cases, client):
    expected = model.diagnose_many(cases, keep="case")
    frame = dd.from_pandas(cases, npartitions=8)
    results = scaleout.diagnose_dask(frame, keep="case")
    # the meta is the real layout: Dask needs no guess and pandas gets the same dtypes
    assert (results._meta.dtypes == expected.dtypes).all()
    got = results.compute()
    assert len(got) == ROWS and got.index.tolist() == expected.index.tolist()
    assert_same_results(got, expected)
    workers = client.run(lambda: __import__("model.scaleout").scaleout._MODELS.keys())
    assert len(workers) == 2 and all(list(keys) == [None] for keys in workers.values())


def test_dask_map_partitions_as_documented(model, cases, client):
    """docs/scaleout.md's explicit form: map_partitions with meta from scaleout.meta."""
    frame = dd.from_pandas(cases, npartitions=4)
    results = frame.map_partitions(scaleout.diagnose_partition, keep=["case"],
                                   meta=scaleout.meta(keep={"case": "int64"}))
    assert_same_results(results.compute(), model.diagnose_many(cases, keep="case"))


def test_a_used_model_ships_to_dask_workers(model, cases, client):
    model.diagnose({"age": 30, "pain_location": "calf"})  # used: its engine caches are warm
    pickle.loads(pickle.dumps(model))  # what Dask does to ship (and to name) the bound method
    with dask.config.set({"dataframe.convert-string": False}):  # keep True/False as booleans
        frame = dd.from_pandas(cases.head(200), npartitions=2)
    results = frame.map_partitions(model.diagnose_many, keep=["case"],
                                   meta=model.diagnose_many_meta({"case": "int64"}))
    assert_same_results(results.compute(), model.diagnose_many(cases.head(200), keep="case"))


def test_spark_batches_are_arrow_ready(model, cases):
    """What mapInPandas receives from diagnose_batches, without Spark: text categories, the
    schema's columns in order, the id column first."""
    batches = [cases.iloc[:300], cases.iloc[300:500]]
    out = pd.concat(list(scaleout.diagnose_batches(batches, keep=["case"])), ignore_index=True)
    schema = scaleout.spark_schema(keep={"case": "bigint"})
    names = [field.split("`")[1] for field in schema.split(", ")]
    assert names == list(out.columns)
    assert out["triage_level"].map(type).eq(str).all()
    expected = model.diagnose_many(cases.iloc[:500], keep="case").reset_index(drop=True)
    assert_same_results(out, expected)

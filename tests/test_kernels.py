"""The compiled clique step (model.kernels) against a plain numpy reference."""
import numpy as np

from model.kernels import product_sum


def reference(const, messages, index, out_pos, n_out):
    terms = const[None, :] * np.prod(messages[index].transpose(2, 0, 1), axis=2)
    out = np.zeros((messages.shape[1], n_out))
    for e, o in enumerate(out_pos):
        out[:, o] += terms[:, e]
    return out


def case(rng, rows=7, entries=96, n_msg=4, total=30, n_out=6):
    const = rng.uniform(-1, 1, entries)          # signed, as the noisy-OR aux tables are
    messages = np.ascontiguousarray(rng.uniform(0, 2, (total, rows)))
    index = np.ascontiguousarray(rng.integers(0, total, (entries, n_msg)), dtype=np.intp)
    out_pos = rng.integers(0, n_out, entries).astype(np.intp)
    return const, messages, index, out_pos, n_out


def test_product_sum_matches_numpy():
    rng = np.random.default_rng(0)
    for _ in range(5):
        args = case(rng)
        np.testing.assert_allclose(product_sum(*args), reference(*args), rtol=1e-12, atol=1e-12)


def test_a_row_gives_the_same_bits_in_any_batch():
    """Rows are independent: the engine's results must not depend on how rows are chunked."""
    rng = np.random.default_rng(1)
    const, messages, index, out_pos, n_out = case(rng, rows=33)
    whole = product_sum(const, messages, index, out_pos, n_out)
    for rows in (slice(0, 1), slice(5, 6), slice(3, 20), slice(32, 33)):
        part = product_sum(const, np.ascontiguousarray(messages[:, rows]), index, out_pos, n_out)
        np.testing.assert_array_equal(part, whole[rows])

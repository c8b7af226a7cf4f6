"""Cluster–type match: a query cluster of a type the reference lacks does not look like the type it was called."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from celltyper.tl import cluster_type_match


def _profiles(rng, n_genes=60, n_types=4):
    base = rng.gamma(2.0, 1.0, size=n_genes)
    programs = np.zeros((n_types + 1, n_genes))
    for t in range(n_types + 1):  # one program more than the reference knows: the novel type's
        programs[t, rng.choice(n_genes, 8, replace=False)] = 3.0
    return base, programs


def _cells(rng, base, programs, types, n=80, shift=None):
    rows = []
    for t in types:
        mean = base + programs[t] + (shift if shift is not None else 0)
        rows.append(np.log1p(rng.poisson(np.exp(mean), size=(n, base.size))))
    return sp.csr_matrix(np.vstack(rows)), np.repeat(types, n)


def test_a_cluster_of_a_missing_type_matches_its_called_type_poorly_and_a_global_shift_does_not_count():
    rng = np.random.default_rng(0)
    base, programs = _profiles(rng)
    reference, reference_types = _cells(rng, base, programs, [0, 1, 2, 3])
    shift = rng.normal(0, 1.5, size=base.size)  # every query gene moved the same way: another platform
    query, query_types = _cells(rng, base, programs, [0, 1, 2, 3, 4], shift=shift)
    called = np.where(query_types == 4, 0, query_types).astype(str)  # the novel type was called type 0
    clusters = query_types  # one cluster per true type

    match = cluster_type_match(query, clusters, called, reference, reference_types.astype(str))

    assert match.shape == (query.shape[0],)
    assert (match[query_types < 4] > 0.8).all()  # known types match their own profile despite the shift
    assert (match[query_types == 4] < 0.3).all()


def test_too_few_types_to_centre_on_gives_a_neutral_match():
    rng = np.random.default_rng(1)
    base, programs = _profiles(rng)
    reference, reference_types = _cells(rng, base, programs, [0, 1])
    query, query_types = _cells(rng, base, programs, [0, 1])
    match = cluster_type_match(query, query_types, query_types.astype(str), reference, reference_types.astype(str))
    np.testing.assert_array_equal(match, 1.0)

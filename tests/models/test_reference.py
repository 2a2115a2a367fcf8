"""PyGLightGCN (PyG's LightGCN in kgrec's interface) against kgrec's LightGCN: the same
embeddings give the same propagated scores."""

import numpy as np
import scipy.sparse as sp
import torch

from kgrec.models.lightgcn import LightGCN, normalized_adjacency
from kgrec.models.reference import PyGLightGCN


def test_reference_and_lightgcn_propagate_alike():
    rng = np.random.default_rng(0)
    X = sp.csr_matrix((rng.random((20, 15)) < 0.3).astype(np.float32))
    ours = LightGCN(20, 15, normalized_adjacency(X), embedding_size=8, num_layers=2).eval()
    ref = PyGLightGCN(20, 15, X, embedding_size=8, num_layers=2).eval()
    with torch.no_grad():
        ref.net.embedding.weight.copy_(ours.embedding.weight)
    users = torch.arange(20)
    with torch.no_grad():
        torch.testing.assert_close(ref.score(users), ours.score(users), atol=1e-5, rtol=1e-4)
    pos, neg, reg = ref.bpr_scores(users[:4], torch.tensor([0, 1, 2, 3]), torch.tensor([4, 5, 6, 7]))
    assert pos.shape == neg.shape == (4,) and reg > 0
    assert "edge_index" in dict(ref.named_buffers())  # moves with .to(), rebuilt, not saved
    assert "edge_index" not in ref.state_dict()

"""Check that a clflow results file opens in h5py with the documented layout.

Usage: python3 scripts/check_h5.py RUN.h5
"""
import sys

import h5py
import numpy as np


def main(path):
    with h5py.File(path, "r") as f:
        n, d = f["data/x"].shape
        assert f["data/weights"].shape == (n,)
        assert abs(f["data/weights"][:].sum() - 1) < 1e-12
        assert f["augmentation/view_weights"].shape == (n,)
        eig = f["augmentation/eigenvalues"][:]
        assert f["augmentation/eigenvectors"].shape == (n, eig.size)
        assert np.all(np.diff(eig) <= 1e-12), "eigenvalues must be descending"
        k = int(f.attrs["latent_dim"])
        snaps = f["particles/snapshots/features"]
        times = f["particles/snapshots/times"]
        assert snaps.ndim == 3, snaps.shape
        assert snaps.shape[1:] == (n, k), snaps.shape
        assert snaps.shape[0] == times.shape[0]
        alpha = f["particles/diagnostics/alpha"][:]
        assert alpha.shape == f["particles/diagnostics/time"].shape
        for name, ds in f["particles/diagnostics"].items():
            assert "description" in ds.attrs, name
        assert "stop_reason" in f["particles"].attrs
        print(f"{path}: N = {n}, d = {d}, k = {k}, {snaps.shape[0]} snapshots, "
              f"final alpha = {alpha[-1]:.3f}: layout as documented")


if __name__ == "__main__":
    main(sys.argv[1])

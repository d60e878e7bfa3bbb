"""Storage: blob stores, the git object store over blobs, LFS objects."""

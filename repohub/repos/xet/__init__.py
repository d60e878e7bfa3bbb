"""Xet storage, the domain side: tokens, verified uploads, reads scoped to a repo's network,
and the bridge that lets a Xet file be an ordinary Git LFS object."""

"""Triton model repositories in tensorbind workers: the Python-backend contract and framework runners."""

"""``gradcore.distributed`` (PyTorch's ``torch.distributed``) on MPI through mpi4py."""

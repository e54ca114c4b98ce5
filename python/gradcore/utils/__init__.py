"""``gradcore.utils`` (PyTorch's ``torch.utils``): ``tensorboard`` (``SummaryWriter``)."""

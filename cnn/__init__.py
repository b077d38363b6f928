"""A CNN written from scratch on top of `kernels`: layers with hand-written backward passes,
a Sequential model, SGD/Adam, the MNIST data module and the `python -m cnn` command line."""

"""Other projects' convolutions wrapped in our contract, role LIBRARY: contenders, not ours.

Each module wraps one framework's CPU convolution in `kernels.Backend` (NCHW NumPy arrays
in, the same dtype out, validation by `kernels.shapes`, so errors are ours) and says what the
framework computes natively and what the wrapper converts. Every conversion - NumPy to the
framework's tensor, NCHW to its layout and back, its result to a NumPy array - happens inside
the call, so it is part of the timed time. Pooling is borrowed from our numba backend
(POOLING_FROM), except torch's, the report's PyTorch row: these backends are here to time
convolutions. `versions()` on each names the framework and the runtime libraries it
computes with.

    torch        torch.nn.functional.conv2d; the backward passes through the native
                 convolution_backward kernel with an output mask (one gradient per pass);
                 pooling with max_pool2d / avg_pool2d and their backward kernels
    jax          lax.conv_general_dilated, compiled once per geometry; dx and dw are linear
                 transposes, each compiled on its own
    tensorflow   tf.raw_ops.Conv2D and its two backprop ops, NHWC (transposes timed)
    onnxruntime  an ONNX Conv graph with the weights as constants: forward only

They are registered in `kernels.plugins.FRAMEWORKS`, listed only when the framework
imports; a library is never offered to `auto` nor counted as ours.

Not registered: tinygrad (0.14.0). Its CPU device compiles its own runtime helpers with
clang at device creation (flag --target=x86_64-none-unknown-elf, whatever renderer is
chosen); these machines have gcc only, which rejects the flag, so `Device["CPU"]` fails
("no usable devices"; with CC=gcc: "gcc: error: unrecognized command-line option
'--target=x86_64-none-unknown-elf'"). It would need clang installed.
"""

"""Layer shapes of real networks and benchmark suites, each with its source: the sets
resnet50, vgg16, mobilenet, deepbench and large of `python -m kernels bench --cases`.

Batch sizes are chosen so one forward + backward of any layer costs at most ~3 GFLOP, and a
whole set runs in minutes on 2 cores; where even one image is more than that, the layer runs
at a smaller image size, and its source says so ("run at ..."). `--batch` changes the batch.
Sources are primary where they could be read: oneDNN's benchdnn shape files (from a fork:
the upstream copies were not available here) and gtests, Baidu DeepBench's
conv_problems.h, XNNPACK's MobileNet v1 benchmark, convnet-benchmarks and fbcunn (the
layers the FFT-convolution papers timed), and the networks' papers.

DeepBench's tuples are (w, h, c, n, k, s, r, pad_w, pad_h, wstride, hstride) with r the
kernel height (code/nvidia/conv_bench.cu unpacks them so); its family labels come from its
README's result tables, and "inferred" where the file gives none. oneDNN's ResNet-50 follows
the Caffe model: the downsampling stride sits on the first 1x1, not on the 3x3.
"""

from __future__ import annotations

from . import ConvCase

R50 = "oneDNN benchdnn shapes_resnet_50 (fork aayejinpeng/oneDNN@0949842)"
VGG = "oneDNN benchdnn shapes_vgg_19 (fork aayejinpeng/oneDNN@ebe4578)"
GTEST_RESNET = "oneDNN tests/gtests/in/convolution_resnet.h@1ff36a5"
GTEST_ALEXNET = "oneDNN tests/gtests/in/convolution_alexnet.h@108e959"
XNNPACK = "XNNPACK bench/convolution.cc@04f03be MobileNetV1()"
CONVNET_BENCH = "soumith/convnet-benchmarks torch7/layerwise_benchmarks/benchmark.lua@084c4f0"
FBCUNN = "fbcunn test/benchmark_fft.lua@0d6f169"
DEEPBENCH = "DeepBench code/kernels/conv_problems.h@1a81dcb"
DEEPBENCH_README = "baidu-research/DeepBench README.md"
JOHNSON = ("Johnson et al. 2016 (Alahi, Fei-Fei), Perceptual Losses for Real-Time Style Transfer, "
           "supplementary Table 1 (style transfer network)")
SRCNN = ("Dong et al. 2016 (TPAMI), Image Super-Resolution Using Deep Convolutional Networks, "
         "Sec. 3.1/4 (9-5-5 setting)")


def _case(name, **shape):
    return ConvCase(name, naive_ok=False, **shape)


NETWORK_CASES = [
    # resnet50: ResNet-50 (ImageNet 224): the stem, 1x1 reduce/expand, strided 1x1, and the 3x3 of
    # every stage
    _case('resnet50.conv1', C=3, F=64, H=224, k=7, stride=2, padding=3, N=4,
          source=f'{R50}:3; cross-check {GTEST_RESNET}:19; He et al. 2016 Table 1 (conv1)'),
    _case('resnet50.res2a_branch1', C=64, F=256, H=56, k=1, N=4,
          source=f'{R50}:4; cross-check {GTEST_RESNET}:21'),
    _case('resnet50.res2a_branch2b', C=64, F=64, H=56, k=3, padding=1, N=4,
          source=f'{R50}:6; cross-check {GTEST_RESNET}:25; He et al. 2016 Table 1 (conv2_x)'),
    _case('resnet50.res2b_branch2a', C=256, F=64, H=56, k=1, N=4,
          source=f'{R50}:8; cross-check {GTEST_RESNET}:29'),
    _case('resnet50.res3a_branch2a', C=256, F=128, H=56, k=1, stride=2, N=4,
          source=f'{R50}:15; cross-check {GTEST_RESNET}:43'),
    _case('resnet50.res3a_branch2b', C=128, F=128, H=28, k=3, padding=1, N=4,
          source=f'{R50}:16; cross-check {GTEST_RESNET}:45; He et al. 2016 Table 1 (conv3_x)'),
    _case('resnet50.res4a_branch1', C=512, F=1024, H=28, k=1, stride=2, N=4,
          source=f'{R50}:27; cross-check {GTEST_RESNET}:70'),
    _case('resnet50.res4a_branch2b', C=256, F=256, H=14, k=3, padding=1, N=4,
          source=f'{R50}:29; cross-check {GTEST_RESNET}:74; He et al. 2016 Table 1 (conv4_x)'),
    _case('resnet50.res5a_branch2b', C=512, F=512, H=7, k=3, padding=1, N=4,
          source=f'{R50}:48; cross-check {GTEST_RESNET}:106; He et al. 2016 Table 1 (conv5_x)'),
    _case('resnet50.res5b_branch2a', C=2048, F=512, H=7, k=1, N=4,
          source=f'{R50}:50; cross-check {GTEST_RESNET}:110'),
    # vgg16: VGG-16 config D: the nine distinct 3x3 shapes; heavy layers at half resolution
    _case('vgg16.conv1_1', C=3, F=64, H=224, k=3, padding=1, N=1,
          source=f'{VGG}:3; Simonyan & Zisserman 2015 Table 1 (config D)'),
    _case('vgg16.conv1_2', C=64, F=64, H=112, k=3, padding=1, N=1,
          source=f'{VGG}:4; Simonyan & Zisserman 2015 Table 1 (config D); run at 112x112, not '
                 '224x224'),
    _case('vgg16.conv2_1', C=64, F=128, H=56, k=3, padding=1, N=1,
          source=f'{VGG}:5; Simonyan & Zisserman 2015 Table 1 (config D); run at 56x56, not '
                 '112x112'),
    _case('vgg16.conv2_2', C=128, F=128, H=56, k=3, padding=1, N=1,
          source=f'{VGG}:6; Simonyan & Zisserman 2015 Table 1 (config D); run at 56x56, not '
                 '112x112'),
    _case('vgg16.conv3_1', C=128, F=256, H=28, k=3, padding=1, N=1,
          source=f'{VGG}:7; Simonyan & Zisserman 2015 Table 1 (config D); '
                 'run at 28x28, not 56x56'),
    _case('vgg16.conv3_2', C=256, F=256, H=28, k=3, padding=1, N=1,
          source=f'{VGG}:8; Simonyan & Zisserman 2015 Table 1 (config D); '
                 'run at 28x28, not 56x56'),
    _case('vgg16.conv4_1', C=256, F=512, H=14, k=3, padding=1, N=1,
          source=f'{VGG}:11; Simonyan & Zisserman 2015 Table 1 (config D); '
                 'run at 14x14, not 28x28'),
    _case('vgg16.conv4_2', C=512, F=512, H=14, k=3, padding=1, N=1,
          source=f'{VGG}:12; Simonyan & Zisserman 2015 Table 1 (config D); '
                 'run at 14x14, not 28x28'),
    _case('vgg16.conv5_1', C=512, F=512, H=14, k=3, padding=1, N=1,
          source=f'{VGG}:15; Simonyan & Zisserman 2015 Table 1 (config D)'),
    # mobilenet: MobileNet v1 1.0-224: stem, depthwise (groups == C) and pointwise 1x1 layers
    _case('mobilenet.conv1', C=3, F=32, H=224, k=3, stride=2, padding=1, N=8,
          source=f'{XNNPACK} Args row 1; Howard et al. 2017 Table 1 (Conv / s2, 3x3x3x32)'),
    _case('mobilenet.dw1', C=32, F=32, H=112, k=3, padding=1, groups=32, N=8,
          source=f'{XNNPACK} Args row 2; Howard et al. 2017 Table 1 (Conv dw / s1, 3x3x32)'),
    _case('mobilenet.pw1', C=32, F=64, H=112, k=1, N=8,
          source=f'{XNNPACK} Args row 3; Howard et al. 2017 Table 1 (Conv / s1, 1x1x32x64)'),
    _case('mobilenet.dw2_s2', C=64, F=64, H=112, k=3, stride=2, padding=1, groups=64, N=8,
          source=f'{XNNPACK} Args row 4; Howard et al. 2017 Table 1 (Conv dw / s2, 3x3x64)'),
    _case('mobilenet.pw3', C=128, F=128, H=56, k=1, N=8,
          source=f'{XNNPACK} Args row 7; Howard et al. 2017 Table 1 (Conv / s1, 1x1x128x128)'),
    _case('mobilenet.dw6_s2', C=256, F=256, H=28, k=3, stride=2, padding=1, groups=256, N=8,
          source=f'{XNNPACK} Args row 12; Howard et al. 2017 Table 1 (Conv dw / s2, 3x3x256)'),
    _case('mobilenet.dw7', C=512, F=512, H=14, k=3, padding=1, groups=512, N=8,
          source=f'{XNNPACK} Args row 14; Howard et al. 2017 Table 1 (5x Conv dw / s1, 3x3x512)'),
    _case('mobilenet.pw7', C=512, F=512, H=14, k=1, N=8,
          source=f'{XNNPACK} Args row 15; Howard et al. 2017 Table 1 (5x Conv / s1, 1x1x512x512)'),
    _case('mobilenet.dw13', C=1024, F=1024, H=7, k=3, padding=1, groups=1024, N=8,
          source=f'{XNNPACK} Args row 18; Howard et al. 2017 Table 1 (Conv dw, 3x3x1024 on 7x7)'),
    _case('mobilenet.pw13', C=1024, F=1024, H=7, k=1, N=8,
          source=f'{XNNPACK} Args row 19; Howard et al. 2017 Table 1 (Conv / s1, 1x1x1024x1024)'),
    # deepbench: Baidu DeepBench conv problems across speech, OCR, face, vision and speaker-ID
    # families; non-square kernels, inputs and stride
    _case('deepbench.speech_conv1', C=1, F=32, H=161, W=700, k=(5, 20), stride=2, N=1,
          source=f'{DEEPBENCH}:5; family Speech Recognition per {DEEPBENCH_README} '
                 'training conv table (W=700,H=161,C=1,N=32,R=5,S=20 = line 8)'),
    _case('deepbench.speech_conv2', C=32, F=32, H=79, W=341, k=(5, 10), stride=2, N=1,
          source=f'{DEEPBENCH}:9; family Speech Recognition per {DEEPBENCH_README} '
                 'inference-server conv table (W=341,H=79,C=32,N=4,R=5,S=10)'),
    _case('deepbench.ocr_conv2', C=16, F=32, H=24, W=240, k=3, padding=1, N=1,
          source=f'{DEEPBENCH}:14; family OCR inferred (480x48 -> 60x6 chain, lines 13-16)'),
    _case('deepbench.face_conv2', C=64, F=64, H=54, k=3, padding=1, N=1,
          source=f'{DEEPBENCH}:18; family Face Recognition per {DEEPBENCH_README} '
                 'training conv table (W=54,H=54,C=64,N=8)'),
    _case('deepbench.vision_7x7_stem', C=3, F=64, H=224, k=7, stride=2, padding=3, N=1,
          source=f'{DEEPBENCH}:34; family Computer Vision per {DEEPBENCH_README} '
                 'inference-server conv table (W=224,H=224,C=3,N=1,R=7,S=7)'),
    _case('deepbench.vision_5x5', C=192, F=32, H=28, k=5, padding=2, N=1,
          source=f'{DEEPBENCH}:35; family Computer Vision per {DEEPBENCH_README} '
                 'training conv table (W=28,H=28,C=192,N=16,R=5,S=5)'),
    _case('deepbench.vision_3x3_512', C=512, F=512, H=7, k=3, padding=1, N=1,
          source=f'{DEEPBENCH}:33; family Computer Vision per {DEEPBENCH_README} '
                 'training conv table (W=7,H=7,C=512,N=16,R=3,S=3)'),
    _case('deepbench.speaker_conv1', C=1, F=64, H=161, W=700, k=5, stride=2, padding=1, N=1,
          source=f'{DEEPBENCH}:59; family Speaker ID inferred (700x161 -> 42x10 chain, lines '
                 '59-66)'),
    _case('deepbench.speaker_conv3', C=64, F=128, H=40, W=175, k=5, stride=2, padding=1, N=1,
          source=f'{DEEPBENCH}:61; family Speaker ID inferred (700x161 -> 42x10 chain, lines '
                 '59-66); '
                 'run at 40x175, not 80x350'),
    _case('deepbench.device_speech', C=1, F=32, H=40, W=151,
          k=(5, 20), stride=(2, 8), padding=(8, 8), N=1,
          source='baidu-research/DeepBench code/kernels/conv_problems.h inference_device_set, '
                 'first '
                 "entry (active @1a81dcb9, commented out @e54214fe: 'ARM convolution seg faults "
                 "with "
                 "this kernel')"),
    # large: large kernels from the FFT-convolution benchmarks (convnet-benchmarks L1-L5, fbcunn)
    # plus strided-stem and 3x3 controls
    _case('large.alexnet_conv1', C=3, F=96, H=227, k=11, stride=4, N=1,
          source=f'{GTEST_ALEXNET}:3 (fields mb, ng, ic, ih, iw, oc, oh, ow, kh, kw, padh, padw, '
                 'strh, '
                 'strw); oneDNN tests/benchdnn/doc/driver_conv.md example '
                 '\'ic3ih227iw227_oc96oh55ow55_kh11kw11_sh4sw4ph0pw0_n"alexnet:conv1"\'; '
                 'Krizhevsky et '
                 'al. 2012 Sec. 3.5 (says 224x224x3 input, 96 kernels 11x11x3, stride 4)'),
    _case('large.resnet50_conv1', C=3, F=64, H=224, k=7, stride=2, padding=3, N=1,
          source=f'{R50}:3; {DEEPBENCH}:34; He et al. 2016 Table 1 (conv1)'),
    _case('large.cb_L1_11x11', C=3, F=96, H=128, k=11, N=1,
          source=f"{CONVNET_BENCH}:15-24 ('-- first layer'); {FBCUNN}:42"),
    _case('large.cb_L2_9x9', C=64, F=128, H=32, k=9, N=1,
          source=f"{CONVNET_BENCH}:27-36 ('-- second layer'); {FBCUNN}:43 (lists 64 filters, not "
                 "128); "
                 'run at 32x32, not 64x64'),
    _case('large.cb_L3_9x9', C=128, F=128, H=24, k=9, N=1,
          source=f"{CONVNET_BENCH}:39-48 ('-- third layer'); {FBCUNN}:44; run at 24x24, not 32x32"),
    _case('large.cb_L4_7x7', C=128, F=128, H=16, k=7, N=1,
          source=f"{CONVNET_BENCH}:51-60 ('-- fourth layer'); {FBCUNN}:45"),
    _case('large.cb_L5_3x3', C=384, F=384, H=13, k=3, N=1,
          source=f"{CONVNET_BENCH}:62-71 ('layers with small inputs/kernels'); {FBCUNN}:46"),
    _case('large.fbfft_5x5', C=256, F=96, H=31, k=5, N=1,
          source=f"{FBCUNN}:47 (fields batch, filters, plane, row, col, kernelRow, "
                 "kernelCol: line 34)"),
    _case('large.googlenet_5x5', C=192, F=32, H=28, k=5, padding=2, N=1,
          source=f"{DEEPBENCH}:35; Szegedy et al. 2015 Table 1 (inception(3a) '5x5' column: 32)"),
    # Large kernels over few channels at a bigger image, where FFT convolution should win:
    # its cost barely grows with k, im2col's and direct loops' grow with k^2.
    _case('large.style_c9s1_32', C=3, F=32, H=128, k=9, padding=4, N=4,
          source=f'{JOHNSON} (first layer, 9x9 conv, 32 filters, stride 1); run at 128x128, not '
                 '256x256, zero padding 4 keeps the size'),
    _case('large.style_c9s1_3', C=32, F=3, H=128, k=9, padding=4, N=4,
          source=f'{JOHNSON} (last layer, 9x9 conv, 3 filters, stride 1); run at 128x128, not '
                 '256x256, zero padding 4 keeps the size'),
    _case('large.srcnn_conv1', C=1, F=64, H=128, k=9, N=4,
          source=f'{SRCNN} (f1 = 9, n1 = 64, on the luminance channel, no padding); run on '
                 '128x128 images'),
    _case('large.srcnn_conv3', C=32, F=1, H=128, k=5, N=4,
          source=f'{SRCNN} (f3 = 5, n2 = 32 -> one channel, no padding); run on 128x128 images'),
    _case('large.vgg_conv5_3x3', C=512, F=512, H=14, k=3, padding=1, N=1,
          source=f'{VGG}:15; soumith/convnet-benchmarks torch7/layerwise_benchmarks/vgg.bench '
                 '(last CONFIG, bs = 64); the many-channel 3x3 where Winograd, not FFT, should '
                 'win (Lavin & Gray 2016)'),
]

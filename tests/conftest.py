"""Suite-wide test settings.

One torch thread: the suite runs on 2-core CI machines where intra-op threads of tiny ops mostly contend (a few
one-batch training steps measured 46 s with two threads on a busy machine, 0.7 s with one). Tests that need
more set it themselves.
"""

import torch

torch.set_num_threads(1)

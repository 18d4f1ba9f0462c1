"""torchvision's Inception-v3 run module by module in the order of Inception3._forward, stopping after the
last mixed layer and keeping every mixed layer's output: the Python side of the benchmarks' one-pass job."""
import torchvision

MIXED = ["Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
         "Mixed_7a", "Mixed_7b", "Mixed_7c"]
STEM = ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3", "maxpool2"]


def inception_taps(pool=None):
    """(model, run): run(x) returns the 11 mixed outputs, each passed through `pool` when given."""
    m = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False).eval()

    def run(x):
        for n in STEM:
            x = getattr(m, n)(x)
        out = []
        for n in MIXED:
            x = getattr(m, n)(x)
            out.append(pool(x) if pool else x)
        return out
    return m, run

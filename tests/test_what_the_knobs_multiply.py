"""What the cross multipliers really scale: SVD's cross-attention attends to one token, the image
embedding, so softmax over a single key is 1 and attn2's output is one vector, the same at every
position (and every frame) - a position-independent offset, not "prompt adherence"."""

import torch

from svd_attention_lab.controls import Multipliers
from svd_attention_lab.engine import Previewer, RenderSettings


def test_attn2_output_is_the_same_vector_at_every_position(demo_model, sample_image):
    outputs = {}

    def keep(name):
        def hook(module, args, output):
            outputs.setdefault(name, []).append(output.detach().clone())
        return hook

    unet = demo_model.pipe.unet
    handles = [m.register_forward_hook(keep(n)) for n, m in unet.named_modules() if n.endswith("attn2")]
    try:
        Previewer(demo_model).render(sample_image, RenderSettings(seed=2, frames=4, steps=1, decode_chunk_size=4),
                                     Multipliers())
    finally:
        for h in handles:
            h.remove()
    spatial = [n for n in outputs if ".transformer_blocks." in n]
    temporal = [n for n in outputs if ".temporal_transformer_blocks." in n]
    assert len(spatial) == len(temporal) == 7  # every attn2 of the demo UNet ran
    for name, calls in outputs.items():
        for out in calls:
            # spatial: (2*F, H*W, C), one row of positions per frame; temporal: (2*H*W, F, C). The 2 is
            # classifier-free guidance's batch: the image embedding and the unconditional (zero) one.
            tokens = out.reshape(2, -1, out.shape[-1]) if name in temporal else out
            assert torch.allclose(tokens, tokens[:, :1].expand_as(tokens), atol=1e-5), name
            assert tokens.abs().max() > 1e-3  # a real, non-zero offset


def test_with_one_key_the_attention_weights_are_all_one(demo_model):
    attn = next(m for n, m in demo_model.pipe.unet.named_modules() if n.endswith("transformer_blocks.0.attn2"))
    query = torch.randn(2, 5, attn.to_q.in_features)
    context = torch.randn(2, 1, attn.to_k.in_features)  # SVD's encoder_hidden_states: (B, 1, D)
    scores = attn.get_attention_scores(attn.head_to_batch_dim(attn.to_q(query)),
                                       attn.head_to_batch_dim(attn.to_k(context)))
    assert torch.equal(scores, torch.ones_like(scores))

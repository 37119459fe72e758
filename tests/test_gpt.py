"""The GPT of `mg.models.gpt`: the same model as its PyTorch twin (logits and 20 AdamW steps),
the key/value cache (same logits as recomputing), sampling, and gradients."""

import math

import numpy as np
import pytest

import microgradnp as mg
from microgradnp.models.gpt import GPT, GPTConfig, gelu_tanh, sample_logits

TINY = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=8)


@pytest.fixture
def torch1(torch):
    """PyTorch on one thread: for these tiny matrices extra threads only wait for each other
    (and on a busy machine, for a long time)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


def _model(config=TINY, dtype=np.float64, seed=0):
    mg.manual_seed(seed)
    model = GPT(config)
    if dtype == np.float64:
        model.double()
    return model


def _torch_gpt(torch, config):
    """nanoGPT, written in PyTorch with its own layers: the twin of mg.models.gpt.GPT."""
    nn, F = torch.nn, torch.nn.functional

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
            self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)

        def forward(self, x):
            b, t, c = x.shape
            q, k, v = self.c_attn(x).split(c, dim=2)
            q, k, v = (
                z.view(b, t, config.n_head, c // config.n_head).transpose(1, 2) for z in (q, k, v)
            )
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.c_proj(y.transpose(1, 2).reshape(b, t, c))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
            self.attn = Attention()
            self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
            self.mlp = nn.ModuleDict(
                {
                    "c_fc": nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias),
                    "c_proj": nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias),
                }
            )

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            h = F.gelu(self.mlp.c_fc(self.ln_2(x)), approximate="tanh")
            return x + self.mlp.c_proj(h)

    class TorchGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn.ModuleDict(
                {
                    "wte": nn.Embedding(config.vocab_size, config.n_embd),
                    "wpe": nn.Embedding(config.block_size, config.n_embd),
                    "h": nn.ModuleList([Block() for _ in range(config.n_layer)]),
                    "ln_f": nn.LayerNorm(config.n_embd, bias=config.bias),
                }
            )
            self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
            self.lm_head.weight = self.transformer.wte.weight

        def forward(self, idx):
            pos = torch.arange(idx.shape[1])
            x = self.transformer.wte(idx) + self.transformer.wpe(pos)
            for block in self.transformer.h:
                x = block(x)
            return self.lm_head(self.transformer.ln_f(x))

    return TorchGPT()


def _twin(torch, model, dtype):
    twin = _torch_gpt(torch, model.config).to(getattr(torch, np.dtype(dtype).name))
    state = {k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()}
    assert set(state) == set(twin.state_dict())  # the same keys, the tied head included
    twin.load_state_dict(state)
    return twin


def _groups(named):
    """Weight decay on matrices only: AdamW param groups, in the order of named_parameters."""
    named = list(named)
    decay = [p for _, p in named if p.ndim >= 2]
    no_decay = [p for _, p in named if p.ndim < 2]
    return [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}]


@pytest.mark.parametrize(("dtype", "tol"), [(np.float64, 1e-9), (np.float32, 1e-5)])
def test_logits_match_pytorch(torch1, dtype, tol):
    torch = torch1
    model = _model(dtype=dtype)
    if dtype == np.float32:
        model.float()
    twin = _twin(torch, model, dtype)
    idx = np.random.default_rng(1).integers(0, TINY.vocab_size, size=(3, TINY.block_size))
    ours = model(mg.tensor(idx)).detach().numpy()
    theirs = twin(torch.from_numpy(idx)).detach().numpy()
    assert ours.dtype == dtype
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=tol)


def test_twenty_adamw_steps_match_pytorch(torch1):
    torch = torch1
    model = _model()
    twin = _twin(torch, model, np.float64)
    opt = mg.optim.AdamW(_groups(model.named_parameters()), lr=1e-2, betas=(0.9, 0.95))
    topt = torch.optim.AdamW(_groups(twin.named_parameters()), lr=1e-2, betas=(0.9, 0.95))
    # learnable data (each id is followed by the next, mod vocab_size), so the loss falls
    starts = np.random.default_rng(2).integers(0, TINY.vocab_size, size=(20, 4, 1))
    data = (starts + np.arange(TINY.block_size + 1)) % TINY.vocab_size
    ours, theirs = [], []
    for batch in data:
        x, y = batch[:, :-1], batch[:, 1:]
        loss = mg.nn.functional.cross_entropy(
            model(mg.tensor(x)).reshape(-1, TINY.vocab_size), mg.tensor(y.reshape(-1))
        )
        opt.zero_grad()
        loss.backward()
        mg.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        tloss = torch.nn.functional.cross_entropy(
            twin(torch.from_numpy(x)).reshape(-1, TINY.vocab_size), torch.from_numpy(y.reshape(-1))
        )
        topt.zero_grad()
        tloss.backward()
        torch.nn.utils.clip_grad_norm_(twin.parameters(), 1.0)
        topt.step()
        ours.append(loss.item())
        theirs.append(tloss.item())
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    assert ours[-1] < ours[0] - 0.5  # it learned something: the comparison is not vacuous
    final = twin.state_dict()
    for key, value in model.state_dict().items():
        np.testing.assert_allclose(value.numpy(), final[key].numpy(), rtol=0, atol=1e-6)


def test_weight_tying_and_parameter_count():
    model = _model(dtype=np.float32)
    assert model.lm_head.weight is model.transformer.wte.weight
    names = [name for name, _ in model.named_parameters()]
    assert "lm_head.weight" not in names and "transformer.wte.weight" in names
    c = TINY
    per_block = (
        2 * 2 * c.n_embd  # two LayerNorms
        + c.n_embd * 3 * c.n_embd
        + 3 * c.n_embd  # c_attn
        + c.n_embd * c.n_embd
        + c.n_embd  # attn.c_proj
        + c.n_embd * 4 * c.n_embd
        + 4 * c.n_embd  # c_fc
        + 4 * c.n_embd * c.n_embd
        + c.n_embd  # mlp.c_proj
    )
    expected = (c.vocab_size + c.block_size) * c.n_embd + c.n_layer * per_block + 2 * c.n_embd
    assert model.num_parameters() == expected
    assert model.num_parameters(non_embedding=True) == expected - c.block_size * c.n_embd
    # the shared matrix gets the gradient of both uses: embedding rows and the output head
    idx = mg.tensor([[1, 2, 3]])
    model(idx).sum().backward()
    assert np.abs(model.lm_head.weight.grad.numpy()[5]).sum() > 0  # row 5 only in the head


def test_initialisation_follows_gpt2():
    model = _model(GPTConfig(vocab_size=50, block_size=64, n_layer=4, n_head=4, n_embd=64))
    sd = model.state_dict()
    assert abs(sd["transformer.h.0.attn.c_attn.weight"].numpy().std() - 0.02) < 0.002
    assert abs(sd["transformer.h.1.mlp.c_proj.weight"].numpy().std() - 0.02 / math.sqrt(8)) < 0.001
    assert np.all(sd["transformer.h.0.attn.c_attn.bias"].numpy() == 0)
    assert np.all(sd["transformer.ln_f.weight"].numpy() == 1)


def test_cache_gives_the_logits_of_a_full_forward():
    model = _model().eval()
    idx = np.random.default_rng(3).integers(0, TINY.vocab_size, size=(2, TINY.block_size))
    full = model(mg.tensor(idx)).detach().numpy()
    cache = model.make_cache(2)
    with mg.no_grad():
        prefix = model(mg.tensor(idx[:, :3]), cache).numpy()  # a prompt of 3, then 1 by 1
        steps = [model(mg.tensor(idx[:, t : t + 1]), cache).numpy() for t in range(3, 8)]
    assert cache.length == TINY.block_size
    cached = np.concatenate([prefix, *steps], axis=1)
    np.testing.assert_allclose(cached, full, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="exceed block_size=8"):
        model(mg.tensor(idx[:, :1]), cache)


@pytest.mark.parametrize("top_k", [None, 3])
def test_cached_and_uncached_generation_agree(top_k):
    # 30 new tokens with block_size 8: the window restarts several times
    model = _model()
    prompt = mg.tensor([[1, 2, 3], [4, 5, 6]])
    runs = {}
    for use_cache in (True, False):
        gen = np.random.default_rng(7)
        runs[use_cache] = list(
            model.generate_stream(
                prompt, 30, temperature=0.8, top_k=top_k, generator=gen, use_cache=use_cache
            )
        )
    for (ids_c, logits_c), (ids_u, logits_u) in zip(runs[True], runs[False], strict=True):
        np.testing.assert_array_equal(ids_c, ids_u)
        np.testing.assert_allclose(logits_c, logits_u, rtol=0, atol=1e-12)
    out = model.generate(
        prompt, 30, generator=np.random.default_rng(7), temperature=0.8, top_k=top_k
    )
    assert out.shape == (2, 33) and out[:, :3].tolist() == [[1, 2, 3], [4, 5, 6]]
    assert model.training  # generation restores the mode


def test_cache_costs_one_token_steps(monkeypatch):
    model = _model()
    lengths = []
    original = GPT.forward

    def spy(self, idx, cache=None):
        lengths.append(np.asarray(idx.data if hasattr(idx, "data") else idx).shape[1])
        return original(self, idx, cache)

    monkeypatch.setattr(GPT, "forward", spy)
    list(model.generate_stream(mg.tensor([[1, 2]]), 20, generator=np.random.default_rng(0)))
    # a prompt of 2, then one token per step; the window (8) refills with 4 tokens when full
    assert lengths == [2] + [1] * 6 + [4] + [1] * 4 + [4] + [1] * 4 + [4] + [1] * 2


def test_sample_logits_temperature_and_top_k():
    logits = np.log(np.array([[0.1, 0.2, 0.3, 0.4]]))
    gen = np.random.default_rng(0)
    draws = np.array([sample_logits(np.repeat(logits, 1000, 0), generator=gen) for _ in range(20)])
    freq = np.bincount(draws.reshape(-1), minlength=4) / draws.size
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.3, 0.4], atol=0.01)
    top2 = sample_logits(np.repeat(logits, 20000, 0), top_k=2, generator=gen)
    np.testing.assert_allclose(
        np.bincount(top2, minlength=4) / 20000, [0, 0, 3 / 7, 4 / 7], atol=0.01
    )
    # temperature 0.5 squares the probabilities (then renormalises)
    cold = sample_logits(np.repeat(logits, 20000, 0), temperature=0.5, generator=gen)
    p2 = np.array([0.01, 0.04, 0.09, 0.16]) / 0.30
    np.testing.assert_allclose(np.bincount(cold, minlength=4) / 20000, p2, atol=0.01)
    assert sample_logits(logits, temperature=0).tolist() == [3]
    with pytest.raises(ValueError, match="top_k must be >= 1"):
        sample_logits(logits, top_k=0)
    assert draws.shape == (20, 1000)


def test_gelu_tanh_matches_pytorch_and_finite_differences(torch1):
    torch = torch1
    x = np.linspace(-4, 4, 17)
    ours = gelu_tanh(mg.tensor(x)).numpy()
    theirs = torch.nn.functional.gelu(torch.from_numpy(x), approximate="tanh").numpy()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    mg.gradcheck(lambda t: gelu_tanh(t), (mg.tensor(x, requires_grad=True),))


def test_gradients_against_finite_differences():
    config = GPTConfig(vocab_size=5, block_size=4, n_layer=1, n_head=2, n_embd=4)
    model = _model(config)
    idx = mg.tensor([[1, 2, 0, 4]])
    target = mg.tensor([2, 0, 4, 1])
    params = list(model.parameters())
    loss = mg.nn.functional.cross_entropy(model(idx).reshape(-1, 5), target)
    grads = mg.grad(loss, params)
    eps = 1e-6
    for p, g in zip(params, grads, strict=True):
        flat = p.data.reshape(-1)
        for i in range(0, flat.size, max(1, flat.size // 5)):
            old = flat[i]
            flat[i] = old + eps
            up = mg.nn.functional.cross_entropy(model(idx).reshape(-1, 5), target).item()
            flat[i] = old - eps
            down = mg.nn.functional.cross_entropy(model(idx).reshape(-1, 5), target).item()
            flat[i] = old
            assert abs((up - down) / (2 * eps) - g.numpy().reshape(-1)[i]) < 1e-7


def test_bad_input_is_explained():
    model = _model()
    with pytest.raises(ValueError, match=r"integer ids of shape \(B, T\)"):
        model(mg.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="exceed block_size=8"):
        model(mg.tensor(np.zeros((1, 9), dtype=np.int64)))
    with pytest.raises(ValueError, match="divisible by n_head"):
        GPT(GPTConfig(vocab_size=5, n_embd=10, n_head=4))

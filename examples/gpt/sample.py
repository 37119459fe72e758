"""Generate text with a GPT trained by `examples/gpt/train.py`.

Loads `OUT/ckpt.safetensors` (weights, configuration and vocabulary) and continues a
prompt character by character: temperature, top-k, a seeded generator (`--seed`; the same
seed gives the same text), and the key/value cache, so each new character costs one
one-token forward step (`--no-cache` recomputes the whole context at every step instead:
the same text, more slowly).

Run:
    python examples/gpt/sample.py --out gpt_output --prompt "My dear Alicia" -n 500
    python examples/gpt/sample.py --temperature 0.5 --top-k 10 --seed 3
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import microgradnp as mg
from microgradnp.models.gpt import GPT, GPTConfig
from microgradnp.text import CharTokenizer


def load_model(out: str | Path) -> tuple[GPT, CharTokenizer]:
    """The trained model (in eval mode) and its tokenizer, from `out/ckpt.safetensors`."""
    ckpt = mg.load(Path(out) / "ckpt.safetensors")
    model = GPT(GPTConfig(**ckpt["config"]))
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, CharTokenizer(ckpt["chars"])


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="gpt_output", help="the folder train.py wrote")
    p.add_argument("--prompt", default="\n", help="text to continue")
    p.add_argument("-n", "--num-chars", type=int, default=500, help="characters to generate")
    p.add_argument("--temperature", type=float, default=0.8, help="0 takes the most likely")
    p.add_argument("--top-k", type=int, default=20, help="sample among the k likeliest (0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-cache", action="store_true", help="recompute the context every step")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (1: fastest here)")
    args = p.parse_args(argv)
    try:  # small matrices: one BLAS thread is fastest, and on a busy machine by far
        from threadpoolctl import threadpool_limits
    except ImportError:
        return generate(args)
    with threadpool_limits(args.threads):
        return generate(args)


def generate(args: argparse.Namespace) -> str:
    """Load the checkpoint, generate, print and return the text."""
    generator = mg.manual_seed(args.seed)  # the seeded NumPy generator mg draws from
    model, tokenizer = load_model(args.out)
    prompt = tokenizer.encode(args.prompt)[None, :]
    t0 = time.perf_counter()
    ids = model.generate(
        prompt,
        args.num_chars,
        temperature=args.temperature,
        top_k=args.top_k or None,
        generator=generator,
        use_cache=not args.no_cache,
    )
    seconds = time.perf_counter() - t0
    text = tokenizer.decode(ids[0])
    print(text)
    print(
        f"\n[{args.num_chars} characters in {seconds:.2f} s, "
        f"{'no cache' if args.no_cache else 'key/value cache'}]"
    )
    return text


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Times an ONNX style model in PyTorch eager, op by op, with the ONNX file's own weights (no export, no JIT).

Used by `npm run bench -- --torch` so the "onnxruntime vs PyTorch" ratio is measured on the very same graph.
Prints {"WxH": p50_ms, ...} as JSON. Needs Debian's python3-torch and python3-onnx.
Usage: torch_bench.py MODEL.onnx --sizes 512x512,1024x768 --runs 5 --photo PHOTO [--threads N] [--save PREFIX]
(--save writes PREFIX.input.npy and PREFIX.output.npy at the first size, so scripts/torch-check.ts can run the same
input through onnxruntime and compare: the interpreter must compute what onnxruntime computes, not only as fast.)
"""
import argparse
import json
import sys
import time

try:
    import numpy as np
    import onnx
    import torch
    import torch.nn.functional as F
    from onnx import numpy_helper
except ImportError as e:  # the bench prints this line as the reason the column is skipped
    sys.exit(f"python3-torch / python3-onnx not installed ({e})")

DTYPES = {1: torch.float32, 6: torch.int32, 7: torch.int64, 9: torch.bool, 11: torch.float64}


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def ints(t):
    return [int(v) for v in t.tolist()]


def pad_nchw(x, pads, mode="constant", value=0.0):
    n = len(pads) // 2
    begins, ends = pads[:n], pads[n:]
    torch_pads = []
    for d in reversed(range(n)):
        torch_pads += [begins[d], ends[d]]
    if not any(torch_pads):
        return x
    # F.pad pads from the last dimension backwards; leading all-zero pairs can be dropped, but a reflect/replicate
    # pad of an N-d tensor must name the N-2 trailing dims (a 4-D tensor with 1-D reflect padding is refused).
    shortest = 2 if mode == "constant" else 2 * (x.dim() - 2)
    while len(torch_pads) > shortest and torch_pads[-2:] == [0, 0]:
        torch_pads = torch_pads[:-2]
    if mode == "constant":
        return F.pad(x, torch_pads, value=value)
    padded = [d for d in range(n) if begins[d] or ends[d]]
    if padded and padded != list(range(n - len(padded), n)):
        # torch pads non-constant modes only on the last dims: move the padded ones there (NHWC graphs pad H, W).
        order = [d for d in range(n) if d not in padded] + padded
        back = [order.index(d) for d in range(n)]
        moved = pad_nchw(x.permute(*order), [begins[d] for d in order] + [ends[d] for d in order], mode)
        return moved.permute(*back)
    return F.pad(x, torch_pads, mode={"reflect": "reflect", "edge": "replicate"}[mode])


def linear_asymmetric(x, dim, out_size, scale):
    """ONNX linear resize along one dim with coordinate_transformation_mode=asymmetric: x_in = x_out / scale."""
    n = x.shape[dim]
    pos = torch.arange(out_size, dtype=torch.float32) / scale
    lo = pos.floor().clamp(0, n - 1)
    w = (pos - lo).clamp(0, 1)
    lo = lo.long()
    hi = (lo + 1).clamp(max=n - 1)
    shape = [1] * x.dim()
    shape[dim] = out_size
    w = w.reshape(shape)
    return x.index_select(dim, lo) * (1 - w) + x.index_select(dim, hi) * w


def resize(x, a, scales, sizes):
    mode = a.get("mode", b"nearest").decode()
    ctm = a.get("coordinate_transformation_mode", b"half_pixel").decode()
    size = ints(sizes)[2:] if sizes is not None and sizes.numel() else None
    scale = [float(s) for s in scales.tolist()[2:]] if size is None else None
    if mode == "nearest":
        return F.interpolate(x, size=size, scale_factor=scale, mode="nearest")
    if ctm == "asymmetric":  # torch has no such mode: computed as onnxruntime does (TF1's ResizeBilinear)
        size = size or [int(x.shape[2 + k] * scale[k]) for k in range(2)]
        scale = scale or [size[k] / x.shape[2 + k] for k in range(2)]
        return linear_asymmetric(linear_asymmetric(x, 2, size[0], scale[0]), 3, size[1], scale[1])
    if ctm not in ("half_pixel", "pytorch_half_pixel", "align_corners"):
        raise NotImplementedError(f"Resize {ctm}")
    return F.interpolate(x, size=size, scale_factor=scale, mode="bilinear", align_corners=(ctm == "align_corners"))


def conv_pads(a, x, w):
    """Begin+end pads per spatial dim, auto_pad included (SAME_UPPER puts the odd pixel at the end, as TF does)."""
    k = len(w.shape) - 2
    auto = a.get("auto_pad", b"NOTSET").decode()
    if auto in ("NOTSET", ""):
        return a.get("pads", [0] * 2 * k)
    if auto == "VALID":
        return [0] * 2 * k
    strides = a.get("strides", [1] * k)
    dilations = a.get("dilations", [1] * k)
    begins, ends = [], []
    for d in range(k):
        size = x.shape[2 + d]
        total = max((-(-size // strides[d]) - 1) * strides[d] + (w.shape[2 + d] - 1) * dilations[d] + 1 - size, 0)
        small = total // 2
        begins.append(small if auto == "SAME_UPPER" else total - small)
        ends.append(total - begins[-1])
    return begins + ends


def space_to_depth(x, b):
    n, c, h, w = x.shape
    x = x.reshape(n, c, h // b, b, w // b, b).permute(0, 3, 5, 1, 2, 4)
    return x.reshape(n, c * b * b, h // b, w // b)


def depth_to_space(x, b, mode):
    n, c, h, w = x.shape
    if mode == "CRD":
        return F.pixel_shuffle(x, b)
    x = x.reshape(n, b, b, c // (b * b), h, w).permute(0, 3, 4, 1, 5, 2)
    return x.reshape(n, c // (b * b), h * b, w * b)


def run_node(op, a, i):
    if op == "Conv":
        w = i[1]
        k = len(w.shape) - 2
        x = i[0]
        pads = conv_pads(a, x, w)
        if pads[:k] != pads[k:]:
            x, pads = pad_nchw(x, [0, 0] + pads[:k] + [0, 0] + pads[k:]), [0] * 2 * k
        b = i[2] if len(i) > 2 else None
        return F.conv2d(x, w, b, stride=a.get("strides", 1), padding=pads[:k], dilation=a.get("dilations", 1), groups=a.get("group", 1))
    if op == "Pad":
        mode = a.get("mode", b"constant").decode()
        value = float(i[2]) if len(i) > 2 and i[2] is not None and i[2].numel() else 0.0
        return pad_nchw(i[0], ints(i[1]), mode, value)
    if op == "InstanceNormalization":
        return F.instance_norm(i[0], weight=i[1], bias=i[2], eps=a.get("epsilon", 1e-5))
    if op == "LayerNormalization":
        axis = a.get("axis", -1) % i[0].dim()
        y = F.layer_norm(i[0], i[0].shape[axis:], None, None, a.get("epsilon", 1e-5))
        y = y * i[1]  # scale/bias broadcast (e.g. [C,1,1] over C,H,W), which F.layer_norm's weight cannot
        return y + i[2] if len(i) > 2 and i[2] is not None else y
    if op == "LeakyRelu":
        return F.leaky_relu(i[0], a.get("alpha", 0.01))
    if op in ("Add", "Sub", "Mul", "Div"):
        return {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div}[op](i[0], i[1])
    if op == "Sqrt":
        return torch.sqrt(i[0])
    if op == "Tanh":
        return torch.tanh(i[0])
    if op == "Clip":
        lo = i[1] if len(i) > 1 and i[1] is not None else None
        hi = i[2] if len(i) > 2 and i[2] is not None else None
        return torch.clamp(i[0], lo, hi)
    if op == "Transpose":
        return i[0].permute(*a["perm"])
    if op == "ReduceMean":
        return torch.mean(i[0], dim=a["axes"], keepdim=bool(a.get("keepdims", 1)))
    if op == "ReduceSum":
        axes = ints(i[1]) if len(i) > 1 else a["axes"]
        return torch.sum(i[0], dim=axes, keepdim=bool(a.get("keepdims", 1)))
    if op == "GlobalAveragePool":
        return torch.mean(i[0], dim=[2, 3], keepdim=True)
    if op == "AveragePool":
        k = a["kernel_shape"]
        pads = a.get("pads", [0] * 4)
        return F.avg_pool2d(i[0], k, a.get("strides", k), pads[:2], count_include_pad=bool(a.get("count_include_pad", 0)))
    if op == "Softmax":
        return torch.softmax(i[0], a.get("axis", -1))
    if op == "Reshape":
        shape = [d if d != 0 else i[0].shape[k] for k, d in enumerate(ints(i[1]))]
        return i[0].reshape(shape)
    if op == "Resize":
        return resize(i[0], a, i[2] if len(i) > 2 else None, i[3] if len(i) > 3 else None)
    if op == "SpaceToDepth":
        return space_to_depth(i[0], a["blocksize"])
    if op == "DepthToSpace":
        return depth_to_space(i[0], a["blocksize"], a.get("mode", b"DCR").decode())
    if op == "Shape":
        return torch.tensor(i[0].shape, dtype=torch.int64)
    if op == "Gather":
        return torch.index_select(i[0], a.get("axis", 0), i[1].reshape(-1).long()).reshape(
            list(i[0].shape[: a.get("axis", 0)]) + list(i[1].shape) + list(i[0].shape[a.get("axis", 0) + 1 :])
        )
    if op == "Cast":
        return i[0].to(DTYPES[a["to"]])
    if op == "Slice":
        x = i[0]
        starts, ends = ints(i[1]), ints(i[2])
        axes = ints(i[3]) if len(i) > 3 and i[3] is not None else list(range(len(starts)))
        steps = ints(i[4]) if len(i) > 4 and i[4] is not None else [1] * len(starts)
        index = [slice(None)] * x.dim()
        for s, e, ax, st in zip(starts, ends, axes, steps):
            index[ax] = slice(s, min(e, x.shape[ax]), st)
        return x[tuple(index)]
    if op == "Squeeze":
        axes = ints(i[1]) if len(i) > 1 else a.get("axes")
        x = i[0]
        for ax in sorted(axes or [], reverse=True):
            x = x.squeeze(ax)
        return x
    if op == "Unsqueeze":
        axes = ints(i[1]) if len(i) > 1 else a["axes"]
        x = i[0]
        for ax in sorted(axes):
            x = x.unsqueeze(ax)
        return x
    if op == "Concat":
        return torch.cat(list(i), a["axis"])
    if op == "Identity":
        return i[0]
    raise NotImplementedError(op)


def build(model_file):
    model = onnx.load(model_file)
    g = model.graph
    weights = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in g.initializer}
    nodes = [(n.op_type, attrs(n), list(n.input), list(n.output)) for n in g.node]
    for op, a, _, _ in nodes:
        if op == "Constant":
            pass
    input_name, output_name = g.input[0].name, g.output[0].name

    @torch.no_grad()
    def run(x):
        env = dict(weights)
        env[input_name] = x
        for op, a, ins, outs in nodes:
            if op == "Constant":
                env[outs[0]] = torch.from_numpy(numpy_helper.to_array(a["value"]).copy())
                continue
            try:
                env[outs[0]] = run_node(op, a, [env[n] if n else None for n in ins])
            except Exception as e:
                raise RuntimeError(f"{op} {outs[0]}: {e}") from e
        return env[output_name]

    return run


def photo_tensor(photo, w, h):
    from PIL import Image  # Debian's python3-pil comes with python3-torch's suggested stack; fall back to noise

    img = Image.open(photo).convert("RGB")
    s = max(w / img.width, h / img.height)
    img = img.resize((max(w, round(img.width * s)), max(h, round(img.height * s))))
    left, top = (img.width - w) // 2, (img.height - h) // 2
    arr = np.asarray(img.crop((left, top, left + w, top + h)), dtype=np.float32) / 127.5 - 1
    return torch.from_numpy(arr[None].copy())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--sizes", default="512x512,1024x768")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--photo")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--save", help="write PREFIX.input.npy and PREFIX.output.npy at the first size (to check against onnxruntime)")
    args = p.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    run = build(args.model)
    result = {}
    for k, size in enumerate(args.sizes.split(",")):
        w, h = (int(v) for v in size.split("x"))
        try:
            x = photo_tensor(args.photo, w, h)
        except Exception:
            x = torch.rand(1, h, w, 3) * 2 - 1
        out = run(x)  # warm-up
        if k == 0 and args.save:
            np.save(args.save + ".input.npy", x.numpy())
            np.save(args.save + ".output.npy", out.numpy())
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            run(x)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        result[size] = round(times[(len(times) + 1) // 2 - 1])
    print(json.dumps(result))


if __name__ == "__main__":
    main()

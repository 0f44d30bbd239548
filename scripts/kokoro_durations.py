"""Kokoro's duration predictor as a model of its own, cut out of the full model at setup.

Kokoro decides a line's length before it makes a sound: its predictor gives every phoneme a
duration in frames, the frames are divided by the speed, rounded (at least one each), and the
decoder renders 600 samples (25 ms at 24 kHz) per frame. So the untrimmed length of a take at
any speed is sum(max(1, round(d / speed))) * 600 samples, exactly. The predictor is a few
percent of Kokoro's compute; the decoder is the rest. With the durations, synthesis picks the
speed that fits a line's slot before speaking it once, instead of speaking it, measuring, and
speaking it again (speak.rs). The ratio of lengths is not 1/speed: durations are whole frames,
so most phonemes of two frames drop to one past speed 4/3, a step in the curve (docs/voices.md).

The cut: every node the output `/encoder/predictor/ReduceSum_output_0` (the per-token
durations at speed 1, before the division by `speed`) depends on, with their initializers; the
inputs `tokens` and `style`. Written with the standard library (onnx_proto.py), keeping the
kept fields' bytes as they are, so the result is deterministic and pinned in models.lock.
"""
from onnx_proto import f_bytes, fields, strings, value_info_proto, FLOAT

OUTPUT = "/encoder/predictor/ReduceSum_output_0"
INPUTS = ("tokens", "style")


def cut(model):
    """The duration predictor of the Kokoro ModelProto bytes `model`, as ModelProto bytes."""
    top = fields(model)
    graphs = [v for f, v, _ in top if f == 7]
    if len(graphs) != 1:
        raise ValueError("not an ONNX model with one graph")
    graph = fields(graphs[0])
    # GraphProto: node=1, name=2, initializer=5, input=11, output=12
    nodes = [(strings(v, 1), strings(v, 2), raw) for f, v, raw in graph if f == 1]
    producer = {o: k for k, (_, outs, _) in enumerate(nodes) for o in outs}
    if OUTPUT not in producer:
        raise ValueError(f"the model has no {OUTPUT}: not the Kokoro v1.0 graph this cut expects")
    keep, need, todo = set(), set(), [OUTPUT]
    while todo:
        name = todo.pop()
        if name in need or not name:
            continue
        need.add(name)
        k = producer.get(name)
        if k is not None and k not in keep:
            keep.add(k)
            todo.extend(nodes[k][0])
    if "speed" in need:
        raise ValueError("the durations depend on `speed`: not the graph this cut expects")
    body = b""
    for f, v, raw in graph:
        if f == 1:
            continue
        if f == 5 and strings(v, 8)[0] not in need:
            continue
        if f == 11 and strings(v, 1)[0] not in INPUTS:
            continue
        if f in (12, 13):  # outputs and value_info: the one output below replaces them
            continue
        body += raw
    # Nodes first and in their original (topological) order, as in the source graph.
    body = b"".join(nodes[k][2] for k in sorted(keep)) + body
    body += f_bytes(12, value_info_proto(OUTPUT, FLOAT, ["batch", "tokens"]))
    out = b""
    for f, v, raw in top:
        out += f_bytes(7, body) if f == 7 else raw
    return out

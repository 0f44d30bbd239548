"""Kokoro with its convolutions as uint8 x int8 matrix products, made at setup.

Kokoro v1.0's int8 graph quantizes every convolution as ConvInteger: activations and weights
are both uint8. ONNX Runtime's CPU kernel for uint8 x uint8 runs no faster than float32 (on the
2-core Xeon: 128 G ops/s either way, one core), while its uint8 x int8 matrix product uses the
CPU's VNNI dot-product instructions (414 G ops/s there). The convolutions are 62% of Kokoro's
time. So each ConvInteger chain

    DynamicQuantizeLinear(x) -> ConvInteger(xq, w, xzp, wzp) [-> Add(quantized bias)] -> Cast -> Mul(scale)

becomes, on the same quantized activations,

    xq [1, C, L] -> [L, C] -> Pad with xzp -> one Slice per tap -> Concat [Lout, K*C]
       -> MatMulInteger(., W8 [K*C, O], xzp) -> Cast -> Mul(xs * ws) -> [1, O, Lout] (+ float bias)

where W8 = w - wzp is exactly the weight the original subtracted its zero point from (every
one of Kokoro's fits in int8, checked), so each product is the same integer; only the bias is
added in float instead of rounded to the integer grid. A line then takes about 1.5x less time
(docs/voices.md, "Engine speed").

Why it is a second file and not a replacement: without VNNI, ONNX Runtime multiplies uint8 x
int8 byte pairs with `vpmaddubsw`, whose int16 sums saturate (the same fault docs/asr-onnx.md
found in Whisper's decoder), so the engine speaks with it only when asked
(`REDUB_KOKORO_GRAPH=vnni`, refused on CPUs without VNNI; redub-tts `kokoro.rs`).

Standard library only (onnx_proto.py); the output is deterministic and pinned in models.lock.
"""
import struct

from onnx_proto import FLOAT, INT8, INT64, UINT8, f_bytes, fields, node_proto, read_varint, strings, tensor_proto

PREFIX = "vnni/"


def ints(msg, number):
    """A repeated int64 field, packed or not, as signed ints."""
    out = []
    for f, v, _ in fields(msg):
        if f != number:
            continue
        if isinstance(v, int):
            out.append(v)
        else:  # packed
            i = 0
            while i < len(v):
                n, i = read_varint(v, i)
                out.append(n)
    return [n - (1 << 64) if n >= 1 << 63 else n for n in out]


def attributes(node):
    """{name: int or [ints]} of a NodeProto's int attributes (the only kind ConvInteger has,
    besides auto_pad, which must be NOTSET)."""
    out = {}
    for f, v, _ in fields(node):
        if f != 5:
            continue
        name = strings(v, 1)[0]
        kind = [x for g, x, _ in fields(v) if g == 20][0]
        if kind == 2:
            out[name] = ints(v, 3)[0]
        elif kind == 7:
            out[name] = ints(v, 8)
        elif kind == 3:
            out[name] = [x for g, x, _ in fields(v) if g == 4][0].decode()
    return out


class Tensor:
    def __init__(self, msg):
        self.dims = ints(msg, 1)
        self.dtype = [v for f, v, _ in fields(msg) if f == 2][0]
        raw = [v for f, v, _ in fields(msg) if f == 9]
        if raw:
            self.raw = raw[0]
        elif self.dtype == FLOAT:  # float_data (4): fixed32, packed or one per field
            self.raw = b"".join(v if isinstance(v, bytes) else b"" for f, v, _ in fields(msg) if f == 4)
        elif self.dtype == UINT8:  # int32_data (5), one varint per element
            self.raw = bytes(ints(msg, 5))
        else:
            raise ValueError(f"initializer {strings(msg, 8)[0]} has no data this converter reads")


def i64(value):
    return struct.pack(f"<{len(value)}q", *value)


def convert(model):
    """The VNNI form of the Kokoro ModelProto bytes `model`, as ModelProto bytes."""
    top = fields(model)
    graphs = [v for f, v, _ in top if f == 7]
    if len(graphs) != 1:
        raise ValueError("not an ONNX model with one graph")
    graph = fields(graphs[0])
    # GraphProto: node=1, initializer=5, output=12, value_info=13
    nodes = [(strings(v, 4)[0], strings(v, 1), strings(v, 2), v, raw) for f, v, raw in graph if f == 1]
    inits = {strings(v, 8)[0]: v for f, v, _ in graph if f == 5}
    producer = {o: k for k, n in enumerate(nodes) for o in n[2]}
    consumers = {}
    for k, n in enumerate(nodes):
        for i in n[1]:
            consumers.setdefault(i, []).append(k)
    new_inits, replaced, dead = {}, {}, set()

    def const(value):
        name = f"{PREFIX}i64/" + "_".join(str(v) for v in value)
        new_inits.setdefault(name, tensor_proto(name, [len(value)], INT64, i64(value)))
        return name

    def only(name, op):
        ks = consumers.get(name, [])
        if len(ks) != 1 or nodes[ks[0]][0] != op:
            raise ValueError(f"{name} does not feed one {op}: not the graph this converter expects")
        return ks[0]

    count = 0
    for k, (op, ins, outs, msg, _) in enumerate(nodes):
        if op != "ConvInteger":
            continue
        at = attributes(msg)
        kernel = at["kernel_shape"]
        if len(kernel) != 1 or at.get("group", 1) != 1 or at.get("auto_pad", "NOTSET") != "NOTSET":
            raise ValueError(f"ConvInteger {ins[1]} is not a 1-D convolution of one group")
        xq, wname, xzp, wzp_name = ins
        dq = nodes[producer[xq]]
        if dq[0] != "DynamicQuantizeLinear" or dq[2] != [xq, dq[2][1], xzp]:
            raise ValueError(f"{xq} is not quantized by DynamicQuantizeLinear")
        xs = dq[2][1]
        w, wzp = Tensor(inits[wname]), Tensor(inits[wzp_name])
        scale_name = wname.replace("_quantized", "_scale")
        if w.dtype != UINT8 or wzp.dtype != UINT8 or scale_name not in inits:
            raise ValueError(f"ConvInteger weight {wname} is not uint8 with a scale")
        zp = wzp.raw[0]
        if any(not -128 <= b - zp <= 127 for b in set(w.raw)):
            raise ValueError(f"{wname} minus its zero point does not fit int8")
        O, C, K = w.dims
        shifted = w.raw.translate(bytes((b - zp) & 0xFF for b in range(256)))
        # B[j*C + c, o] = w[o, c, j]: row (c, j) is every C*K-th byte from c*K + j.
        B = b"".join(shifted[c * K + j::C * K] for j in range(K) for c in range(C))
        # The chain after the ConvInteger, and its bias if it has one.
        chain = [k]
        nxt = only(outs[0], nodes[consumers[outs[0]][0]][0])
        bias = None
        if nodes[nxt][0] == "Add":
            chain.append(nxt)
            nxt = only(nodes[nxt][2][0], "Cast")
        elif nodes[nxt][0] != "Cast":
            raise ValueError(f"ConvInteger {wname} feeds {nodes[nxt][0]}, not Add or Cast")
        chain.append(nxt)
        mul = only(nodes[nxt][2][0], "Mul")
        chain.append(mul)
        if len(chain) == 4:
            bias = nodes[mul][1][1][:-len("_scale")]
            if bias not in inits or Tensor(inits[bias]).dims != [O]:
                raise ValueError(f"no float bias {bias} for {wname}")
        out = nodes[mul][2][0]
        b = f"{PREFIX}{count}/"
        count += 1
        p0, p1 = at.get("pads", [0, 0])
        stride, dil = at.get("strides", [1])[0], at.get("dilations", [1])[0]
        new = [node_proto("Squeeze", [xq, const([0])], [b + "x2"], {}),
               node_proto("Transpose", [b + "x2"], [b + "xt"], {"perm": [1, 0]})]
        x = b + "xt"
        if p0 or p1:
            new.append(node_proto("Pad", [x, const([p0, 0, p1, 0]), xzp], [b + "xp"], {}))
            x = b + "xp"
        if K > 1 or stride > 1:
            span, taps = dil * (K - 1), []
            for j in range(K):
                # Tap j reads rows j*dil, j*dil + stride, … up to span - j*dil rows from the end.
                end = j * dil - span if j * dil < span else (1 << 62)
                new.append(node_proto("Slice", [x, const([j * dil]), const([end]), const([0]), const([stride])],
                                      [b + f"t{j}"], {}))
                taps.append(b + f"t{j}")
            new.append(node_proto("Concat", taps, [b + "col"], {"axis": 1}))
            x = b + "col"
        new_inits[b + "B"] = tensor_proto(b + "B", [K * C, O], INT8, B)
        new += [node_proto("MatMulInteger", [x, b + "B", xzp], [b + "yi"], {}),
                node_proto("Cast", [b + "yi"], [b + "yf"], {"to": FLOAT}),
                node_proto("Mul", [xs, scale_name], [b + "scale"], {}),
                node_proto("Mul", [b + "yf", b + "scale"], [b + "y"], {}),
                node_proto("Transpose", [b + "y"], [b + "yt"], {"perm": [1, 0]})]
        if bias:
            new_inits[b + "bias"] = tensor_proto(b + "bias", [1, O, 1], FLOAT, Tensor(inits[bias]).raw)
            new += [node_proto("Unsqueeze", [b + "yt", const([0])], [b + "y3"], {}),
                    node_proto("Add", [b + "y3", b + "bias"], [out], {})]
        else:
            new.append(node_proto("Unsqueeze", [b + "yt", const([0])], [out], {}))
        replaced[mul] = new
        dead.update(chain)
    if count == 0:
        raise ValueError("no ConvInteger in the model: not the Kokoro int8 graph this converter expects")
    # The new node list in the original order, then nodes nobody reads any more (the old
    # quantized-bias arithmetic) swept out.
    body_nodes = []  # (inputs, outputs, bytes)
    for k, (op, ins, outs, msg, raw) in enumerate(nodes):
        if k in replaced:
            body_nodes += [(strings(n, 1), strings(n, 2), f_bytes(1, n)) for n in replaced[k]]
        elif k not in dead:
            body_nodes.append((ins, outs, raw))
    graph_outputs = {strings(v, 1)[0] for f, v, _ in graph if f == 12}
    while True:
        used = {i for ins, _, _ in body_nodes for i in ins} | graph_outputs
        kept = [n for n in body_nodes if any(o in used for o in n[1])]
        if len(kept) == len(body_nodes):
            break
        body_nodes = kept
    used = {i for ins, _, _ in body_nodes for i in ins}
    produced = {o for _, outs, _ in body_nodes for o in outs}
    body = [raw for _, _, raw in body_nodes]
    for f, v, raw in graph:
        if f == 1:
            continue
        if f == 5 and strings(v, 8)[0] not in used:
            continue
        if f == 13 and strings(v, 1)[0] not in produced:
            continue
        body.append(raw)
    body += [f_bytes(5, t) for name, t in sorted(new_inits.items()) if name in used]
    body = b"".join(body)
    return b"".join(f_bytes(7, body) if f == 7 else raw for f, v, raw in top)


if __name__ == "__main__":
    import sys
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, "rb") as fh:
        data = convert(fh.read())
    with open(dst, "wb") as fh:
        fh.write(data)

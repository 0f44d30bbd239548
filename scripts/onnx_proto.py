"""ONNX protobuf written by hand, for the converters that make ONNX models at setup
(campplus_to_onnx.py, ct2_whisper_to_onnx.py) with the standard library only.

Field numbers from onnx/onnx.proto (proto2: repeated scalars are not packed). Fields are written
in field-number order, as protobuf's own serialiser does, so the bytes are deterministic.
"""
import struct

FLOAT, UINT8, INT8, INT32, INT64, BOOL = 1, 2, 3, 6, 7, 9  # TensorProto.DataType
ATTR_FLOAT, ATTR_INT, ATTR_INTS = 1, 2, 7  # AttributeProto.AttributeType


def varint(n):
    n &= (1 << 64) - 1  # negative int64: two's complement, 10 bytes
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_int(field, n):
    return varint(field << 3) + varint(n)


def f_bytes(field, b):
    return varint(field << 3 | 2) + varint(len(b)) + b


def f_str(field, s):
    return f_bytes(field, s.encode())


def f_float(field, x):
    return varint(field << 3 | 5) + struct.pack("<f", x)


def tensor_proto(name, dims, dtype, raw):
    # TensorProto: dims=1, data_type=2, name=8, raw_data=9
    return b"".join(f_int(1, d) for d in dims) + f_int(2, dtype) + f_str(8, name) + f_bytes(9, raw)


def attribute_proto(name, value):
    # AttributeProto: name=1, f=2, i=3, ints=8, type=20
    if isinstance(value, float):
        return f_str(1, name) + f_float(2, value) + f_int(20, ATTR_FLOAT)
    if isinstance(value, int):
        return f_str(1, name) + f_int(3, value) + f_int(20, ATTR_INT)
    return f_str(1, name) + b"".join(f_int(8, v) for v in value) + f_int(20, ATTR_INTS)


def node_proto(op_type, inputs, outputs, attrs, name=None):
    # NodeProto: input=1, output=2, name=3, op_type=4, attribute=5 (sorted by name, like
    # onnx.helper); without a name, field 3 is left out.
    return (b"".join(f_str(1, i) for i in inputs) + b"".join(f_str(2, o) for o in outputs)
            + (f_str(3, name) if name is not None else b"") + f_str(4, op_type)
            + b"".join(f_bytes(5, attribute_proto(k, v)) for k, v in sorted(attrs.items())))


def value_info_proto(name, elem_type, dims):
    # ValueInfoProto{name=1, type=2}; TypeProto{tensor_type=1}; Tensor{elem_type=1, shape=2};
    # TensorShapeProto{dim=1}; Dimension{dim_value=1, dim_param=2}
    shape = b"".join(f_bytes(1, f_str(2, d) if isinstance(d, str) else f_int(1, d)) for d in dims)
    return f_str(1, name) + f_bytes(2, f_bytes(1, f_int(1, elem_type) + f_bytes(2, shape)))


# Reading: the converters that rewrite a model (kokoro_durations.py, kokoro_vnni.py).

def read_varint(buf, i):
    shift = n = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n, i
        shift += 7


def fields(buf):
    """(field number, value, the field's bytes) of one message; value is bytes for
    length-delimited fields, an int otherwise."""
    i, out = 0, []
    while i < len(buf):
        start = i
        key, i = read_varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = read_varint(buf, i)
        elif wire == 2:
            n, i = read_varint(buf, i)
            value, i = bytes(buf[i:i + n]), i + n
        elif wire == 5:
            value, i = bytes(buf[i:i + 4]), i + 4
        elif wire == 1:
            value, i = bytes(buf[i:i + 8]), i + 8
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((field, value, bytes(buf[start:i])))
    return out


def strings(msg, number):
    return [v.decode() for f, v, _ in fields(msg) if f == number]

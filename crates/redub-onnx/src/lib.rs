//! redub-onnx
